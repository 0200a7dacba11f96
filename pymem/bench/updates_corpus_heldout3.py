"""The third held-out half (``heldout3``) of `pymem bench updates`. Do not tune on it.

What it is: scenarios of the same three types and with the same fields as
:mod:`pymem.bench.updates_corpus` generates (``update``: ``current_terms`` / ``stale_terms``;
``distractor``: ``kind``, ``protected_terms`` / ``expected_terms``; ``cessation``:
``ceased_terms``), but over families of its own, chosen from what real conversations showed
the statement reading to miss or misread: counts and numbers that go up (the page
a reader is on, projects finished, a best score, a budget, a mortgage pre-approval, a
streak), moves, job and car changes, a new phone number; cessations in everyday wording
("I don't eat meat anymore", "I quit my job"); many-valued facts that must keep every value
(a second pet, another language); and distractors that must close nothing (someone else's
fact, a question, a plan, a hypothetical, a hedge, and context sentences such as "we're
looking for economy tickets and don't have a preferred airline" or "I'm still getting used
to living in Tokyo").

When and why: written by hand, blind to the statement-reading rules (pymem/sql) and to the
wording of the other halves, before the statement reading was reworked, so it measures how readings
carry over to unseen text. Its first run is the baseline. Nothing here was taken from
elsewhere.

The rule that makes it worth anything: do not read it while changing extraction, prompts,
consistency settings or thresholds, and do not fit anything to its results or failure
examples. Once its failures have been looked at and acted on it is spent.

How scenarios are made: deterministically (no random stream), by walking each family's
values and templates in turn. Placeholders ``{old}``, ``{new}``, ``{other}`` take a value's
surface text (its first alias); matching is :func:`updates_corpus.mentions` (whole words,
lowercased, optional plural).
"""

from __future__ import annotations

from .updates_corpus import mentions

SPLIT = "heldout3"

# -- update families: one value at a time --------------------------------------------------
# values: (surface, alias, ...); original/update use {old}/{new}; distractor (kind, template)
# uses {other} (a third value) and follows an original that named {old}.

UPDATE_FAMILIES: dict[str, dict] = {
    "reading_page": {
        "values": [("200",), ("220",), ("145",), ("312",), ("87",), ("263",), ("58",)],
        "original": ["I'm currently on page {old} of that enormous fantasy novel my brother lent me.",
                     "Bookmark check: page {old}, and the plot is finally picking up.",
                     "Made it to page {old} of the biography last night before I fell asleep."],
        "update": ["Quick reading update, I'm now on page {new}.",
                   "Got through a big chunk on the train, so I'm up to page {new}.",
                   "As of this morning I'm at page {new}.",
                   "Couldn't put it down yesterday, I'm sitting at page {new} now."],
        "question": ["What page is the user on in the book they're reading?",
                     "How far into their current book has the user got?"],
        "distractor": [("hypothetical", "If I could read on my commute I'd probably be past page {other} already."),
                       ("other_person", "My partner is reading the same copy and she's way ahead, on page {other}."),
                       ("question", "Is it normal that the map only shows up on page {other}?"),
                       ("plan", "My goal is to get to page {other} before it's due back at the library."),
                       ("hedge", "I think chapter nine starts somewhere around page {other}, but don't quote me.")],
    },
    "phone_number": {
        "values": [("555-0142", "5550142"), ("555-0199", "5550199"), ("555-0173", "5550173"),
                   ("555-0118", "5550118"), ("555-0126", "5550126"), ("555-0187", "5550187")],
        "original": ["You can reach me on {old} if anything comes up.",
                     "My cell is {old}, texts are best.",
                     "For the delivery form, my number is {old}."],
        "update": ["New phone, new number: {new}.",
                   "Heads up, I switched carriers and my number changed to {new}.",
                   "Please use {new} from now on, the old number is disconnected.",
                   "My mobile number is {new} now."],
        "question": ["What is the user's phone number?", "Which number should be used to call the user?"],
        "distractor": [("other_person", "My dad's number is {other}, in case you ever need an emergency contact."),
                       ("question", "Do you know whose number {other} is? It keeps calling me."),
                       ("plan", "The office says I'll get a desk line, probably {other}."),
                       ("hypothetical", "If I get a work phone it would be something like {other}."),
                       ("hedge", "The dentist might have {other} on file for me, I'm honestly not sure.")],
    },
    "neighbourhood": {
        "values": [("Kreuzberg",), ("Le Plateau", "plateau"), ("Fremont",), ("Ostend",), ("Södermalm", "sodermalm"),
                   ("Leith",), ("Wicker Park",)],
        "original": ["We rent a flat in {old}, right by the canal.",
                     "I've lived in {old} for about four years.",
                     "Home for me is a little place in {old}."],
        "update": ["We finally moved, we're in {new} now.",
                   "The boxes are unpacked and {new} already feels like home.",
                   "Moving day went fine, so our new address is in {new}.",
                   "I left {old} last month and took an apartment in {new}."],
        "question": ["Which neighbourhood does the user live in?", "In what part of town is the user's home?"],
        "distractor": [("other_person", "My sister just moved to {other} and loves it."),
                       ("question", "Is {other} a good area for a first apartment?"),
                       ("plan", "We're having dinner in {other} on Saturday."),
                       ("hypothetical", "If rent weren't so silly I'd live in {other} in a heartbeat."),
                       ("hedge", "We might look at places in {other} next year, nothing decided.")],
    },
    "employer": {
        "values": [("Brightwell Insurance", "brightwell"), ("Tallgrass Robotics", "tallgrass"),
                   ("Ocotillo Health", "ocotillo"), ("Fernleaf Studios", "fernleaf"), ("Lumen Freight", "lumen"),
                   ("Quarrystone Bank", "quarrystone")],
        "original": ["I'm an analyst at {old}, been there three years.",
                     "I work for {old} in their downtown office.",
                     "My employer is {old}; it's a decent place."],
        "update": ["I accepted an offer from {new} and started on Monday.",
                   "Last day at {old} was Friday, I'm with {new} now.",
                   "Big news: I'm working at {new} these days.",
                   "I changed jobs, so it's {new} that pays the bills now."],
        "question": ["Which company does the user work for?", "Which organisation employs the user?"],
        "distractor": [("other_person", "My roommate got a job at {other} last week."),
                       ("question", "Have you heard anything about {other} as a place to work?"),
                       ("plan", "I have a coffee chat with a recruiter from {other} on Thursday."),
                       ("hypothetical", "If {other} ever opened an office here I'd apply in a second."),
                       ("hedge", "I may interview with {other} at some point, but I'm happy where I am.")],
    },
    "car": {
        "values": [("Corolla",), ("Subaru Forester", "forester"), ("Nissan Leaf", "leaf"), ("Model 3",), ("Civic",),
                   ("Transit Connect",), ("Mazda CX-5", "cx-5")],
        "original": ["I drive a {old}, mostly for the school run.",
                     "My car's a {old}, nothing fancy but it runs.",
                     "I get around in a {old} I bought used."],
        "update": ["Traded the old car in, I'm driving a {new} these days.",
                   "We picked up a {new} over the weekend and sold the {old}.",
                   "My daily driver is a {new} now.",
                   "The {old} finally died, so I bought a {new}."],
        "question": ["What car does the user drive?", "Which vehicle does the user own now?"],
        "distractor": [("other_person", "My neighbour just bought a {other} and won't stop talking about it."),
                       ("question", "Is a {other} expensive to insure?"),
                       ("plan", "The rental company is giving us a {other} for the road trip."),
                       ("hypothetical", "If I had a longer commute I'd want a {other}."),
                       ("hedge", "Maybe one day a {other}, but probably not.")],
    },
    "monthly_rent": {
        "values": [("$1,450", "1,450", "1450"), ("$1,720", "1,720", "1720"), ("$980", "980"),
                   ("$2,100", "2,100", "2100"), ("$1,275", "1,275", "1275"), ("$1,860", "1,860", "1860")],
        "original": ["Our rent is {old} a month, utilities not included.",
                     "I pay {old} in rent each month for a one-bedroom.",
                     "Rent comes to {old} monthly, which is fine for now."],
        "update": ["The landlord raised it, so rent is {new} a month starting this month.",
                   "New lease signed: {new} per month.",
                   "We negotiated and the rent is now {new}.",
                   "From this month on I'm paying {new} in rent."],
        "question": ["How much rent does the user pay?", "What is the user's monthly rent?"],
        "distractor": [("other_person", "My friend pays {other} for a place half the size."),
                       ("question", "Is {other} a month normal for a two-bedroom here?"),
                       ("plan", "The flat we're viewing tomorrow is listed at {other}."),
                       ("hypothetical", "If we added a roommate we'd each pay about {other}."),
                       ("hedge", "I guess rent could go to {other} next year, who knows.")],
    },
    "renovation_budget": {
        "values": [("$15,000", "15,000", "15k"), ("$22,000", "22,000", "22k"), ("$9,500", "9,500"),
                   ("$30,000", "30,000", "30k"), ("$12,000", "12,000", "12k"), ("$18,500", "18,500")],
        "original": ["We set aside {old} for the kitchen remodel.",
                     "The kitchen budget is {old}, and we really can't go over.",
                     "For the kitchen we're working with {old} total."],
        "update": ["After talking it over we bumped the kitchen budget to {new}.",
                   "Our kitchen budget is {new} now that the bonus came through.",
                   "We had to trim the kitchen plan, the budget is {new}.",
                   "Revised number for the kitchen: {new}."],
        "question": ["What is the user's budget for the kitchen remodel?", "How much can the user spend on the kitchen?"],
        "distractor": [("other_person", "Our neighbours spent {other} on theirs, which seems wild."),
                       ("question", "Can you even get new cabinets for {other}?"),
                       ("plan", "The contractor's first quote comes in at {other}; we'll see."),
                       ("hypothetical", "If we redid the bathroom too it'd be more like {other}."),
                       ("hedge", "It might end up near {other}, it's hard to say.")],
    },
    "mortgage_preapproval": {
        "values": [("$350,000", "350,000", "350k"), ("$400,000", "400,000", "400k"), ("$285,000", "285,000", "285k"),
                   ("$310,000", "310,000", "310k"), ("$425,000", "425,000", "425k"), ("$262,000", "262,000", "262k")],
        "original": ["The bank pre-approved us for {old}.",
                     "We've got a mortgage pre-approval of {old} in hand.",
                     "Our pre-approval came back at {old}, so that's our ceiling."],
        "update": ["Good news, the lender revised our pre-approval to {new}.",
                   "We switched lenders and got pre-approved for {new}.",
                   "Our pre-approval is {new} now.",
                   "After the raise the bank updated the pre-approval to {new}."],
        "question": ["How much is the user pre-approved for?", "What is the user's mortgage pre-approval amount?"],
        "distractor": [("other_person", "My coworker got pre-approved for {other} with the same bank."),
                       ("question", "Are houses around {other} usually in decent shape here?"),
                       ("plan", "We're touring a house listed at {other} on Sunday."),
                       ("hypothetical", "If we waited a year we might qualify for {other}."),
                       ("hedge", "Maybe we could stretch to {other}, I'm not sure we should.")],
    },
    "weekly_mileage": {
        "values": [("18 miles", "18"), ("25 miles", "25"), ("12 miles", "12"), ("32 miles", "32"), ("40 miles", "40"),
                   ("21 miles", "21")],
        "original": ["I'm running about {old} a week right now.",
                     "My weekly mileage sits around {old}.",
                     "These days I log roughly {old} a week."],
        "update": ["Training ramped up, I'm at {new} a week now.",
                   "My weekly mileage is up to {new}.",
                   "I cut back because of my knee, so it's {new} a week.",
                   "This block of the plan has me at {new} per week."],
        "question": ["How many miles a week does the user run?", "What is the user's weekly running mileage?"],
        "distractor": [("other_person", "My running buddy does {other} a week and makes it look easy."),
                       ("question", "Is {other} a week enough for a half marathon?"),
                       ("plan", "The plan peaks at {other} a week in October."),
                       ("hypothetical", "If I had more time I'd do {other} a week."),
                       ("hedge", "Maybe {other} one week, we'll see how the legs feel.")],
    },
    "team_size": {
        "values": [("6 people", "six people"), ("9 people", "nine people"), ("4 people", "four people"),
                   ("12 people", "twelve people"), ("15 people", "fifteen people"), ("7 people", "seven people")],
        "original": ["I manage a team of {old}.",
                     "My team is {old}, mostly backend folks.",
                     "There are {old} reporting to me."],
        "update": ["We just hired, so my team is {new} now.",
                   "After the reorg I have {new} on my team.",
                   "Headcount on my team went to {new} this quarter.",
                   "I'm leading {new} as of this week."],
        "question": ["How big is the team the user manages?", "How many people report to the user?"],
        "distractor": [("other_person", "My manager has {other} under her."),
                       ("question", "Is {other} too many for one standup?"),
                       ("plan", "The offsite is for {other} from the platform group."),
                       ("hypothetical", "If the budget passes we'd grow to {other}."),
                       ("hedge", "It might become {other} someday, hard to say.")],
    },
    "language_streak": {
        "values": [("45 days", "45-day"), ("60 days", "60-day"), ("112 days", "112-day"), ("30 days", "30-day"),
                   ("200 days", "200-day"), ("75 days", "75-day")],
        "original": ["My Duolingo streak is at {old}.",
                     "I'm proud of my language app streak: {old}.",
                     "I haven't missed a lesson in {old}."],
        "update": ["Streak update: {new} and counting.",
                   "Just hit {new} on my streak!",
                   "According to the app my streak stands at {new}.",
                   "The streak reached {new} this morning."],
        "question": ["How long is the user's language-learning streak?", "What is the user's current app streak?"],
        "distractor": [("other_person", "My nephew's streak is {other}, he's relentless."),
                       ("question", "Do you get a badge at {other}?"),
                       ("plan", "I want to make it to {other} before the trip."),
                       ("hypothetical", "If I hadn't been sick I'd be at {other} already."),
                       ("hedge", "I might reach {other} by summer, no promises.")],
    },
    "wake_time": {
        "values": [("6:30", "6:30 am"), ("5:45", "5:45 am"), ("7:15", "7:15 am"), ("8:00", "8 am"), ("6:00", "6 am"),
                   ("4:50", "4:50 am")],
        "original": ["I'm usually up at {old} on weekdays.",
                     "My alarm goes off at {old} every workday.",
                     "Weekday mornings start at {old} for me."],
        "update": ["My new shift means I'm getting up at {new} now.",
                   "I moved my alarm to {new}.",
                   "I'm waking up at {new} these days.",
                   "Since the school run changed I set the alarm for {new}."],
        "question": ["What time does the user wake up on weekdays?", "When does the user's alarm go off?"],
        "distractor": [("other_person", "My husband gets up at {other}, which I find unreasonable."),
                       ("question", "Is it healthy to wake at {other} every day?"),
                       ("plan", "Tomorrow I'll be up at {other} to catch the flight."),
                       ("hypothetical", "If I lived closer to work I could sleep until {other}."),
                       ("hedge", "I've been thinking about trying {other}, not sure yet.")],
    },
    "current_show": {
        "values": [("Severance",), ("The Bear",), ("Slow Horses",), ("Shogun",), ("Taskmaster",), ("Bluey",),
                   ("Only Murders in the Building", "only murders")],
        "original": ["We're watching {old} in the evenings.",
                     "My current show is {old}, I'm hooked.",
                     "Right now I'm in the middle of {old}."],
        "update": ["We finished that one and started {new} last night.",
                   "These days it's {new} before bed.",
                   "I've moved on to {new} and it's great.",
                   "Our evening show is {new} now."],
        "question": ["What show is the user watching at the moment?", "Which series is the user currently watching?"],
        "distractor": [("other_person", "My mum keeps telling me to watch {other}."),
                       ("question", "Is {other} worth starting?"),
                       ("plan", "We're having people over to watch the {other} finale."),
                       ("hypothetical", "If I had a free weekend I'd binge {other}."),
                       ("hedge", "Maybe {other} after this, I don't know.")],
    },
    "mobile_carrier": {
        "values": [("Mint Mobile", "mint"), ("Visible",), ("Google Fi", "fi"), ("Ting",), ("Cricket",),
                   ("Boost Mobile", "boost")],
        "original": ["My phone plan is with {old}.",
                     "I've been a {old} customer for years.",
                     "{old} is my carrier, coverage is fine."],
        "update": ["I ported my number over to {new} to save money.",
                   "Switched my plan to {new} last week.",
                   "My carrier is {new} now.",
                   "I'm on {new} since the promo ended."],
        "question": ["Which mobile carrier does the user use?", "Who provides the user's phone plan?"],
        "distractor": [("other_person", "My brother swears by {other}."),
                       ("question", "Does {other} work well abroad?"),
                       ("plan", "The store is sending me a {other} SIM for the work phone."),
                       ("hypothetical", "If I travelled more I'd use {other}."),
                       ("hedge", "I could try {other} someday, no rush.")],
    },
    "gym": {
        "values": [("Crunch",), ("Bouldering Project",), ("Anytime Fitness",), ("the YMCA", "ymca"), ("Equinox",),
                   ("Iron Temple",)],
        "original": ["My gym is {old}, near the office.",
                     "I work out at {old} most mornings.",
                     "I'm a member at {old}."],
        "update": ["Switched gyms, I go to {new} now.",
                   "I joined {new} when my contract ran out.",
                   "These days I train at {new}.",
                   "I moved my membership over to {new}."],
        "question": ["Which gym does the user go to?", "Where does the user work out?"],
        "distractor": [("other_person", "My girlfriend goes to {other}."),
                       ("question", "Is {other} crowded on weekends?"),
                       ("plan", "I'm trying a free day pass at {other} on Friday."),
                       ("hypothetical", "If it were closer I'd go to {other}."),
                       ("hedge", "I might check out {other} at some point.")],
    },
    "emergency_fund": {
        "values": [("$6,000", "6,000", "6k"), ("$8,500", "8,500"), ("$3,200", "3,200"), ("$11,000", "11,000", "11k"),
                   ("$4,750", "4,750"), ("$14,000", "14,000", "14k")],
        "original": ["My emergency fund is at {old}.",
                     "I've saved {old} so far for emergencies.",
                     "There's {old} in my rainy-day account."],
        "update": ["Emergency fund finally hit {new}!",
                   "Checked the balance, the emergency fund sits at {new}.",
                   "Rainy-day account is at {new} now.",
                   "I topped up the emergency fund, it's {new}."],
        "question": ["How much is in the user's emergency fund?", "How much has the user saved for emergencies?"],
        "distractor": [("other_person", "My sister has {other} put away, which makes me jealous."),
                       ("question", "Is {other} enough for three months of expenses?"),
                       ("plan", "I'm aiming for {other} by December."),
                       ("hypothetical", "If I skipped the trip I'd have {other}."),
                       ("hedge", "Maybe {other} by next spring, depending on bonuses.")],
    },
    "school": {
        "values": [("Rutgers",), ("Portland State", "psu"), ("the Open University", "open university"),
                   ("Georgia Tech",), ("McGill",), ("UT Dallas", "utd")],
        "original": ["I'm doing my master's at {old}, part-time.",
                     "I study at {old} in the evenings.",
                     "My program is through {old}."],
        "update": ["I transferred to {new} this semester.",
                   "I'm enrolled at {new} now, the credits carried over.",
                   "Starting this term my classes are at {new}.",
                   "I switched programs and I'm at {new}."],
        "question": ["Where is the user studying?", "Which university does the user attend?"],
        "distractor": [("other_person", "My cousin got into {other}."),
                       ("question", "Is {other} any good for data science?"),
                       ("plan", "I'm going to a seminar at {other} next week."),
                       ("hypothetical", "If I'd had the grades I'd have gone to {other}."),
                       ("hedge", "I might apply to {other} for a PhD, maybe.")],
    },
}

# Hand-written updates whose old and new values are worded differently ("completed 4 projects"
# ... "just finished my 5th"): (family, original, second, question, stale_terms, current_terms).
UPDATE_PAIRS: list[tuple] = [
    ("projects_completed", "I've completed 4 projects in my portfolio course so far.",
     "Just finished my 5th project for the course!", "How many portfolio projects has the user completed?",
     ("4 projects", "four projects"), ("5th", "fifth", "5 projects", "five projects")),
    ("projects_completed", "So far I've shipped three apps on my own.",
     "My fourth app went live on the store yesterday.", "How many apps has the user shipped?",
     ("three apps", "3 apps"), ("fourth", "4th", "four apps", "4 apps")),
    ("projects_completed", "I've knitted 2 sweaters this year.",
     "Sweater number three is off the needles!", "How many sweaters has the user knitted this year?",
     ("2 sweaters", "two sweaters"), ("three", "3 sweaters", "3rd", "third")),
    ("projects_completed", "I have 11 marathons under my belt.",
     "Crossed the line at Chicago, that's marathon 12 for me.", "How many marathons has the user run?",
     ("11 marathons", "eleven marathons", "11"), ("12", "twelve", "12th")),
    ("projects_completed", "I've read 17 books this year.",
     "Finished another one last night, 18 books for the year.", "How many books has the user read this year?",
     ("17",), ("18",)),
    ("high_score", "My best so far on the pinball machine at our bar is 141 million.",
     "Finally beat it, the bar's pinball machine shows my name with 158 million!", "What is the user's best pinball score?",
     ("141",), ("158",)),
    ("high_score", "My best bowling game is a 187.",
     "New personal best at the lanes tonight, I bowled a 203!", "What is the user's best bowling score?",
     ("187",), ("203",)),
    ("high_score", "I scored 1380 on my first SAT attempt.",
     "Retook the SAT and got a 1490.", "What SAT score does the user have?",
     ("1380",), ("1490",)),
    ("high_score", "My 5k personal record is 24:10.",
     "Shaved it down at the park run, my 5k PR is 23:02 now.", "What is the user's 5k personal record?",
     ("24:10",), ("23:02",)),
    ("high_score", "My chess rating online is 1420.",
     "Good week of blitz, rating climbed to 1512.", "What is the user's chess rating?",
     ("1420",), ("1512",)),
    ("high_score", "I deadlift 140 kilos for a single.",
     "Pulled 150 kilos today, new max!", "What is the user's deadlift max?",
     ("140",), ("150",)),
    ("trip_budget", "We're keeping the Portugal trip under $3,000 all in.",
     "Flights went up, so we're allowing $3,600 for Portugal.", "What is the user's budget for the Portugal trip?",
     ("$3,000", "3,000", "3000"), ("$3,600", "3,600", "3600")),
    ("trip_budget", "Our wedding budget is 25 grand.",
     "We sat down with both families and the wedding budget is now 32 grand.", "What is the user's wedding budget?",
     ("25 grand", "25,000", "25k"), ("32 grand", "32,000", "32k")),
    ("trip_budget", "I'm spending at most $800 on a new laptop.",
     "Okay, I've stretched the laptop budget to $1,100.", "How much will the user spend on a laptop?",
     ("$800", "800"), ("$1,100", "1,100", "1100")),
    ("salary", "I make 72k a year right now.",
     "Got the promotion, my salary is 81k now.", "What is the user's salary?",
     ("72k", "72,000"), ("81k", "81,000")),
    ("salary", "My hourly rate as a freelancer is $65.",
     "I raised my freelance rate to $80 an hour for new clients and old ones alike.", "What hourly rate does the user charge?",
     ("$65", "65"), ("$80", "80")),
    ("age_of_child", "Our son is 3 and obsessed with trucks.",
     "We just celebrated our son's 4th birthday.", "How old is the user's son?",
     ("3",), ("4th", "4")),
    ("weight", "I weigh about 82 kilos at the moment.",
     "Down to 78 kilos after the summer of cycling.", "How much does the user weigh?",
     ("82",), ("78",)),
    ("job_title", "I'm a line cook at a bistro downtown.",
     "I got promoted to sous chef last month.", "What is the user's job?",
     ("line cook",), ("sous chef",)),
    ("job_title", "I teach fifth grade.",
     "I left the classroom, I'm an instructional coach for the district now.", "What does the user do for work?",
     ("fifth grade", "teach"), ("instructional coach",)),
    ("job_title", "I do bookkeeping for a few small businesses.",
     "I passed the exam, so I'm a licensed CPA now.", "What is the user's profession?",
     ("bookkeeping",), ("cpa",)),
    ("relationship", "My girlfriend Dana and I have been together two years.",
     "Dana and I got engaged on Saturday, she's my fiancée now!", "What is the user's relationship status with Dana?",
     ("girlfriend",), ("fiancée", "fiancee", "engaged")),
    ("home_city", "I live in Bergen, it rains constantly.",
     "We relocated to Trondheim for my wife's job.", "Which city does the user live in?",
     ("bergen",), ("trondheim",)),
    ("home_city", "Home base is Tucson for now.",
     "I packed up the truck and drove to Boise, that's home now.", "What city does the user call home?",
     ("tucson",), ("boise",)),
    ("home_city", "I live in Tokyo, in a tiny flat near Nakameguro.",
     "After six years in Japan we moved back to Auckland.", "What city does the user call home?",
     ("tokyo", "nakameguro"), ("auckland",)),
]

# -- additive families: many values at once (a second one must not replace the first) ------

ADDITIVE_FAMILIES: dict[str, dict] = {
    "pets": {
        "values": [("beagle",), ("tabby cat", "tabby"), ("bearded dragon",), ("cockatiel",), ("rabbit",),
                   ("goldfish",), ("corn snake",)],
        "original": ["We have a {old} named Pickle.", "My {old} sleeps on my feet every night.",
                     "I adopted a {old} last year."],
        "addition": ["We brought home a {other} too, so the house is busy.",
                     "Now there's also a {other} in the family.",
                     "Couldn't resist, we got a {other} as well."],
        "question": "What animals share the user's home?",
    },
    "languages_spoken": {
        "values": [("Portuguese",), ("Tagalog",), ("Polish",), ("Swahili",), ("Korean",), ("Dutch",), ("Hebrew",)],
        "original": ["I grew up speaking {old} at home.", "I'm fluent in {old}.", "I speak {old} with my grandparents."],
        "addition": ["I've also picked up conversational {other} over the years.",
                     "I can get by in {other} too, from working abroad.",
                     "I'm learning {other} as well and can hold a basic conversation."],
        "question": "What languages can the user speak?",
    },
    "instruments": {
        "values": [("cello",), ("ukulele",), ("trumpet",), ("banjo",), ("drums",), ("harmonica",)],
        "original": ["I play the {old} in a community orchestra.", "I've played {old} since I was nine.",
                     "Evenings I practise the {old}."],
        "addition": ["I started {other} lessons last month too.", "I also play some {other} for fun.",
                     "My newest hobby: the {other}, alongside everything else."],
        "question": "What instruments does the user play?",
    },
    "allergies": {
        "values": [("peanuts", "peanut"), ("shellfish",), ("penicillin",), ("latex",), ("sesame",), ("bee stings", "bee sting")],
        "original": ["I have a serious allergy to {old}.", "Just so you know, I react badly to {old}.",
                     "I carry an EpiPen because of {old}."],
        "addition": ["Turns out I'm allergic to {other} as well, the allergist confirmed it.",
                     "Add {other} to my allergy list too.", "The allergist added {other} to my list as well."],
        "question": "What should the user avoid because of allergies?",
    },
    "streaming_subscriptions": {
        "values": [("Netflix",), ("Criterion Channel", "criterion"), ("Spotify",), ("Crunchyroll",), ("Audible",),
                   ("Apple TV", "apple tv+")],
        "original": ["I subscribe to {old}.", "We pay for {old} every month.", "I've had {old} for ages."],
        "addition": ["I signed up for {other} too, for one show.", "We added {other} to the pile.",
                     "I also got {other} with a bundle deal."],
        "question": "Which subscriptions does the user pay for?",
    },
    "sports_played": {
        "values": [("pickleball",), ("water polo",), ("badminton",), ("ultimate frisbee", "ultimate"), ("squash",),
                   ("volleyball",)],
        "original": ["I play {old} on Tuesday nights.", "I'm in a {old} league.", "{old} is my sport."],
        "addition": ["A friend roped me into {other} on Sundays too.", "I joined a {other} team as well.",
                     "On top of that I've started playing {other}."],
        "question": "What sports does the user play?",
    },
    "countries_visited": {
        "values": [("Vietnam",), ("Morocco",), ("Iceland",), ("Peru",), ("Georgia",), ("Slovenia",)],
        "original": ["I backpacked through {old} after college.", "I've been to {old} twice.",
                     "My favourite trip was to {old}."],
        "addition": ["We just got back from {other}, another one for the map.", "I spent a week in {other} in May too.",
                     "Add {other} to the list of places I've been."],
        "question": "Which countries has the user visited?",
    },
    "kids_activities": {
        "values": [("swim lessons", "swim lesson"), ("chess club",), ("ballet",), ("robotics club",), ("choir",),
                   ("karate",)],
        "original": ["My daughter does {old} on Mondays.", "The kids are in {old} this term.",
                     "Our son loves {old}."],
        "addition": ["We signed the kids up for {other} too.", "They've added {other} on Thursdays as well.",
                     "He started {other} this month on top of it."],
        "question": "What activities are the user's kids in?",
    },
}

# -- distractors written out: a protected statement, then a sentence that must close nothing --
# (kind, family, original, second, question, protected_terms, expected_terms)

DISTRACTOR_PAIRS: list[tuple] = [
    ("context", "diet", "I'm vegetarian, have been since university.",
     "We're looking for economy tickets and don't have a preferred airline.", "What does the user eat?",
     ("vegetarian",), ("vegetarian",)),
    ("context", "allergies", "I'm allergic to cats, sadly.",
     "We're flying economy and honestly don't have a preferred airline or seat.", "What should the user avoid because of allergies?",
     ("cats", "cat"), ("cats", "cat")),
    ("context", "employer", "I'm a pharmacist at Greenway Pharmacy.",
     "I'm still getting used to living in Tokyo, but the food makes up for everything.", "What does the user do for work?",
     ("pharmacist", "greenway"), ("pharmacist", "greenway")),
    ("context", "hobbies", "I restore old film cameras as a hobby.",
     "I'm still getting used to the time difference here, honestly.", "How does the user spend spare evenings and weekends?",
     ("film cameras", "film camera"), ("film cameras", "film camera")),
    ("context", "pets", "We have a greyhound called Biscuit.",
     "I don't have a favourite park yet, any suggestions?", "What animals share the user's home?",
     ("greyhound",), ("greyhound",)),
    ("context", "languages_spoken", "I speak Italian with my in-laws.",
     "I don't have any strong opinions on which phone to buy.", "What languages can the user speak?",
     ("italian",), ("italian",)),
    ("context", "diet", "I'm lactose intolerant.",
     "No preference on the hotel, anything near the station works.", "What dietary needs does the user have?",
     ("lactose",), ("lactose",)),
    ("context", "commute", "I cycle to work every day.",
     "I no longer remember the name of that restaurant we liked.", "How does the user travel to their job?",
     ("cycle", "cycling", "bike"), ("cycle", "cycling", "bike")),
    ("context", "home_city", "Our flat is in Lisbon, up one of the steep hills.",
     "I stopped by the bakery on the way home and they were out of everything.", "What city does the user call home?",
     ("lisbon",), ("lisbon",)),
    ("context", "employer", "I work at Harborview Hospital as a respiratory therapist.",
     "I quit trying to fix the dishwasher myself and called a plumber.", "Which company does the user work for?",
     ("harborview", "respiratory therapist"), ("harborview", "respiratory therapist")),
    ("context", "hobbies", "I play in a jazz trio on weekends.",
     "We gave up on the hike halfway because of the rain.", "What does the user do on weekends?",
     ("jazz trio", "jazz"), ("jazz trio", "jazz")),
    ("context", "diet", "I eat a mostly plant-based diet.",
     "I've stopped checking my work email after 7pm, best decision ever.", "How does the user eat?",
     ("plant-based",), ("plant-based",)),
    ("context", "pets", "My cat Juniper is fourteen.",
     "We don't need a pet sitter this time, my cousin's staying over.", "What animals share the user's home?",
     ("juniper",), ("juniper",)),
    ("context", "home_city", "We're based in Rotterdam.",
     "Still adjusting to the new job, but the commute is short.", "What city does the user call home?",
     ("rotterdam",), ("rotterdam",)),
    ("context", "car", "I drive a Honda Fit.",
     "Not a fan of the new parking rules downtown.", "What car does the user drive?",
     ("honda fit",), ("honda fit",)),
    ("hedge", "home_city", "I live in Montreal.",
     "I'm thinking about maybe moving somewhere warmer in a few years.", "What city does the user call home?",
     ("montreal",), ("montreal",)),
    ("hedge", "employer", "I'm a software tester at Copperline.",
     "Sometimes I wonder whether I should switch careers entirely.", "Which company does the user work for?",
     ("copperline", "software tester"), ("copperline", "software tester")),
    ("hedge", "diet", "I eat meat, mostly chicken.",
     "I might try going vegetarian for a month, not sure I'll manage.", "What does the user eat?",
     ("chicken", "meat"), ("chicken", "meat")),
    ("hedge", "commute", "I take the 42 bus to the office.",
     "I might start biking in spring if the weather cooperates.", "How does the user commute?",
     ("42 bus", "bus"), ("42 bus", "bus")),
    ("hedge", "hobbies", "I do pottery on Wednesday evenings.",
     "I may have to skip a few classes while work is crazy.", "How does the user spend spare evenings and weekends?",
     ("pottery",), ("pottery",)),
    ("other_person", "home_city", "I live in Nantes.",
     "My sister moved to Lyon last week.", "What city does the user call home?",
     ("nantes",), ("nantes",)),
    ("other_person", "employer", "I work at Fieldstone Labs.",
     "My husband quit his job at the bank yesterday.", "Which company does the user work for?",
     ("fieldstone",), ("fieldstone",)),
    ("other_person", "diet", "I eat fish but no other meat, so pescatarian I guess.",
     "My dad doesn't eat fish anymore after that food poisoning.", "What does the user eat?",
     ("pescatarian",), ("pescatarian",)),
    ("other_person", "car", "I drive a Kia Soul.",
     "My brother sold his truck and bought a scooter.", "What car does the user drive?",
     ("kia soul",), ("kia soul",)),
    ("other_person", "phone", "I use a Pixel 8.",
     "My mum finally switched to an iPhone.", "Which phone does the user carry?",
     ("pixel 8", "pixel"), ("pixel 8", "pixel")),
    ("question", "home_city", "I live in Edinburgh.",
     "What's the cheapest way to get from Glasgow to Inverness?", "What city does the user call home?",
     ("edinburgh",), ("edinburgh",)),
    ("question", "diet", "I went vegan about two years ago.",
     "Do you think I should stop eating so much bread?", "What does the user eat?",
     ("vegan",), ("vegan",)),
    ("question", "employer", "I'm a paralegal at Whitcombe & Frey.",
     "Should I quit social media for a while?", "What is the user's job?",
     ("paralegal", "whitcombe"), ("paralegal", "whitcombe")),
    ("plan", "home_city", "I live in Austin.",
     "We're flying to Denver next Thursday for my cousin's wedding.", "What city does the user call home?",
     ("austin",), ("austin",)),
    ("plan", "job_title", "I'm a nurse in the ICU.",
     "I'm taking two weeks off in August to visit my parents.", "What does the user do for work?",
     ("nurse", "icu"), ("nurse", "icu")),
]


# -- cessations: a habit or fact, then the user saying it has ended ------------------------

CESSATION_FAMILIES: dict[str, dict] = {
    "diet_meat": {
        "values": [("meat",), ("red meat",), ("pork",), ("beef",)],
        "original": ["I eat {old} most days.", "I'm a big {old} eater, honestly.", "Dinner for me usually involves {old}."],
        "cessation": ["I don't eat {old} anymore.", "I cut {old} out of my diet completely.",
                      "No more {old} for me, doctor's orders."],
        "question": "Does the user eat {old}?",
    },
    "job_quit": {
        "values": [("Pellham Logistics", "pellham"), ("the call center", "call center"), ("Rosewood Hotel", "rosewood"),
                   ("Driftline Media", "driftline")],
        "original": ["I work at {old}.", "I've had a job at {old} for two years.", "My day job is at {old}."],
        "cessation": ["I quit my job at {old}.", "I handed in my notice at {old}, today was my last day.",
                      "I'm not at {old} anymore, I left last week."],
        "question": "Does the user still work at {old}?",
    },
    "smoking": {
        "values": [("cigarettes", "cigarette"), ("cigars", "cigar"), ("nicotine pouches", "nicotine pouch"),
                   ("rolling tobacco", "tobacco")],
        "original": ["I still reach for {old} when I'm stressed.", "I'm trying to cut down on {old}.",
                     "Late nights usually mean {old} for me."],
        "cessation": ["I gave up {old} three months ago.", "I'm done with {old} for good.",
                      "Haven't touched {old} since New Year, I've quit."],
        "question": "Does the user use {old}?",
    },
    "subscription": {
        "values": [("Hulu",), ("ClassPass",), ("HelloFresh",), ("the New York Times", "new york times")],
        "original": ["I subscribe to {old}.", "We pay for {old} every month.", "I use {old} a lot."],
        "cessation": ["I cancelled {old} last week.", "We dropped {old}, it wasn't worth the money.",
                      "I'm no longer subscribed to {old}."],
        "question": "Is the user subscribed to {old}?",
    },
    "drink": {
        "values": [("coffee",), ("alcohol",), ("energy drinks", "energy drink"), ("soda",)],
        "original": ["I drink {old} every day.", "I can't function without {old}.", "I have {old} with most meals."],
        "cessation": ["I stopped drinking {old} a month ago.", "I've given up {old} entirely.",
                      "I don't drink {old} these days."],
        "question": "Does the user drink {old}?",
    },
    "social_media": {
        "values": [("Instagram",), ("TikTok",), ("Facebook",), ("Twitter",)],
        "original": ["I post on {old} a lot.", "I spend way too much time on {old}.", "I'm on {old} every evening."],
        "cessation": ["I deleted my {old} account.", "I got off {old} completely.", "I'm not on {old} anymore."],
        "question": "Does the user use {old}?",
    },
    "volunteering": {
        "values": [("the food bank", "food bank"), ("the animal shelter", "animal shelter"), ("the hospice", "hospice"),
                   ("the library", "library")],
        "original": ["I volunteer at {old} on Saturdays.", "Saturday mornings I help out at {old}.",
                     "I've been volunteering at {old} since spring."],
        "cessation": ["I had to stop volunteering at {old} because of my schedule.",
                      "I don't volunteer at {old} anymore.", "I stepped back from {old} this month."],
        "question": "Does the user volunteer at {old}?",
    },
    "medication": {
        "values": [("ibuprofen",), ("melatonin",), ("antihistamines", "antihistamine"), ("sertraline",)],
        "original": ["I take {old} every night.", "I've been on {old} for a while.", "I rely on {old} most days."],
        "cessation": ["I stopped taking {old}, my doctor said I could.", "I'm off {old} now.",
                      "I no longer take {old}."],
        "question": "Does the user take {old}?",
    },
    "instrument_practice": {
        "values": [("piano",), ("violin",), ("guitar",), ("saxophone",)],
        "original": ["I play {old} every evening.", "I practise {old} daily.", "I take {old} lessons."],
        "cessation": ["I gave up {old} after my wrist injury.", "I haven't played {old} in months, I quit.",
                      "I stopped my {old} lessons for good."],
        "question": "Does the user play {old}?",
    },
    "car_owned": {
        "values": [("Jeep Wrangler", "wrangler"), ("Prius",), ("motorcycle",), ("minivan",)],
        "original": ["I own a {old}.", "I drive a {old} to work.", "My {old} is parked out front."],
        "cessation": ["I sold my {old} last week.", "We got rid of the {old}, we take the train now.",
                      "I don't have the {old} anymore."],
        "question": "Does the user own a {old}?",
    },
}

UPDATES_PER_FAMILY = 10
DISTRACTORS_PER_TEMPLATE = 2
ADDITIONS_PER_FAMILY = 7
CESSATIONS_PER_FAMILY = 6


def _terms(value: tuple[str, ...]) -> list[str]:
    return list(dict.fromkeys(alias.lower() for alias in value))


def _fill(template: str, **values: tuple[str, ...]) -> str:
    text = template.format(**{k: v[0] for k, v in values.items()})
    return text[0].upper() + text[1:]


def _updates() -> list[dict]:
    out = []
    for family, t in UPDATE_FAMILIES.items():
        vals = t["values"]
        for i in range(UPDATES_PER_FAMILY):
            old, new = vals[i % len(vals)], vals[(i + 1 + i // len(vals)) % len(vals)]
            if new == old:
                new = vals[(i + 2) % len(vals)]
            out.append({"id": f"update-{family}-{SPLIT}-{i:02d}", "split": SPLIT, "type": "update", "family": family,
                        "original": _fill(t["original"][i % len(t["original"])], old=old),
                        "second": _fill(t["update"][(i * 3 + 1) % len(t["update"])], old=old, new=new),
                        "question": t["question"][i % len(t["question"])],
                        "current_terms": _terms(new), "stale_terms": _terms(old)})
    counts: dict[str, int] = {}
    for family, original, second, question, stale, current in UPDATE_PAIRS:
        k = counts[family] = counts.get(family, -1) + 1
        out.append({"id": f"update-{family}-{SPLIT}-{k:02d}", "split": SPLIT, "type": "update", "family": family,
                    "original": original, "second": second, "question": question,
                    "current_terms": list(current), "stale_terms": list(stale)})
    return out


def _distractors() -> list[dict]:
    out = []
    for family, t in UPDATE_FAMILIES.items():
        vals = t["values"]
        for j, (kind, template) in enumerate(t["distractor"]):
            for k in range(DISTRACTORS_PER_TEMPLATE):
                i = j * DISTRACTORS_PER_TEMPLATE + k
                old, other = vals[i % len(vals)], vals[(i + 2 + k) % len(vals)]
                out.append({"id": f"distractor-{kind}-{family}-{SPLIT}-{i:02d}", "split": SPLIT, "type": "distractor",
                            "family": family, "kind": kind,
                            "original": _fill(t["original"][i % len(t["original"])], old=old),
                            "second": _fill(template, other=other),
                            "question": t["question"][i % len(t["question"])],
                            "protected_terms": _terms(old), "expected_terms": _terms(old)})
    for family, t in ADDITIVE_FAMILIES.items():
        vals = t["values"]
        for i in range(ADDITIONS_PER_FAMILY):
            old, other = vals[i % len(vals)], vals[(i + 3) % len(vals)]
            out.append({"id": f"distractor-addition-{family}-{SPLIT}-{i:02d}", "split": SPLIT, "type": "distractor",
                        "family": family, "kind": "addition",
                        "original": _fill(t["original"][i % len(t["original"])], old=old),
                        "second": _fill(t["addition"][(i + 1) % len(t["addition"])], other=other),
                        "question": t["question"], "protected_terms": _terms(old), "expected_terms": _terms(old)})
    for i, (kind, family, original, second, question, protected, expected) in enumerate(DISTRACTOR_PAIRS):
        out.append({"id": f"distractor-{kind}-{family}-{SPLIT}-w{i:02d}", "split": SPLIT, "type": "distractor",
                    "family": family, "kind": kind, "original": original, "second": second, "question": question,
                    "protected_terms": list(protected), "expected_terms": list(expected)})
    return out


def _cessations() -> list[dict]:
    out = []
    for family, t in CESSATION_FAMILIES.items():
        vals = t["values"]
        for i in range(CESSATIONS_PER_FAMILY):
            old = vals[i % len(vals)]
            out.append({"id": f"cessation-{family}-{SPLIT}-{i:02d}", "split": SPLIT, "type": "cessation",
                        "family": family,
                        "original": _fill(t["original"][i % len(t["original"])], old=old),
                        "second": _fill(t["cessation"][(i * 2 + 1) % len(t["cessation"])], old=old),
                        "question": t["question"].format(old=old[0]), "ceased_terms": _terms(old)})
    return out


def _check(s: dict) -> None:
    """Each statement names what it should and nothing it should not (as updates_corpus checks)."""
    if s["type"] == "update":
        ok = (mentions(s["original"], s["stale_terms"]) and not mentions(s["original"], s["current_terms"])
              and mentions(s["second"], s["current_terms"]))
    elif s["type"] == "distractor":
        ok = mentions(s["original"], s["protected_terms"]) and not mentions(s["second"], s["protected_terms"])
    else:
        ok = mentions(s["original"], s["ceased_terms"]) and mentions(s["second"], s["ceased_terms"])
    if not ok:
        raise AssertionError(f"scenario {s['id']} does not name its values as it should: {s}")


def scenarios() -> list[dict]:
    """Every ``heldout3`` scenario: updates, then distractors, then cessations (deterministic)."""
    out = _updates() + _distractors() + _cessations()
    ids = [s["id"] for s in out]
    if len(ids) != len(set(ids)):
        raise AssertionError("heldout3 scenario ids must be unique")
    for s in out:
        _check(s)
    return out
