"""The fourth held-out half (``heldout4``) of `pymem bench updates`. Do not tune on it.

Written blind on 2026-12-08: its author read neither the statement-reading rules (pymem/sql,
the worker's extraction, the cue phrases, docs/consistency.md) nor the wording of the other
halves; only the scenario format of :mod:`pymem.bench.updates` and the shape (not the text)
of :mod:`pymem.bench.updates_corpus_heldout3`, whose size and per-type counts it matches.

What it is: scenarios of the same three types and fields as the other halves (``update``:
``current_terms`` / ``stale_terms``; ``distractor``: ``kind``, ``protected_terms`` /
``expected_terms``; ``cessation``: ``ceased_terms``), over families of its own: a city, a job,
a diet, a coffee order, a code editor, a laptop, counts in words ("nineteen books"), a chess
rating, prices and rates, a partner, a trip that changes, a launch date, a dentist, a golf
handicap; corrections of a typo; cessations of habits, memberships, apps and side gigs;
many-valued facts (pets, languages, children, certifications) where another value must not
replace the first; and distractors that must close nothing: someone else's value, a
question, a plan, a hypothetical, a hedge, a past-tense story, "still ...", "no preference"
and negated wishes. The wording mixes slang, typos, hedges and numbers written as words.

The rule that makes it worth anything: do not read it while changing extraction, prompts,
consistency settings or thresholds, and do not fit anything to its results or failure
examples. Once its failures have been looked at and acted on it is spent.

How scenarios are made: deterministically, by walking each family's values and templates in
turn. Placeholders ``{old}``, ``{new}``, ``{other}`` take a value's surface text (its first
alias); matching is :func:`updates_corpus.mentions` (whole words, lowercased, optional plural).
"""

from __future__ import annotations

from .updates_corpus import mentions

SPLIT = "heldout4"

# -- update families: one value at a time --------------------------------------------------
# values: (surface, alias, ...); original/update use {old}/{new}; distractor (kind, template)
# uses {other} (a third value) and follows an original that named {old}.

UPDATE_FAMILIES = {
    "home_city": {
        "values": [("Lisbon",), ("Montreal",), ("Leeds",), ("Austin",), ("Osaka",), ("Tbilisi",), ("Halifax",)],
        "original": ["I've been living in {old} for about three years now, mostly working from home",
                     "quick context: I'm based in {old}, so any times I give you are local to there",
                     "we rent a tiny flat in {old}, 3rd floor, no lift lol"],
        "update": ["big news, we finally packed up and we're in {new} now - the {old} lease ended last month",
                   "so I live in {new} these days, left {old} back in the spring",
                   "heads up my timezone changed, relocated from {old} to {new} for my partner's job",
                   "boxes are still everywhere but this is officially week two of living in {new}"],
        "question": ["Which city does the user live in?", "Where is the user based now?"],
        "distractor": [("other_person", "my brother just relocated to {other} and keeps sending me pics of the food"),
                       ("question", "what's the cost of living like in {other} compared to most places?"),
                       ("plan", "we're flying out to {other} next month for my cousin's wedding, only a long weekend"),
                       ("hypothetical", "if I ever got a properly remote job I'd probably try living in {other} for a year"),
                       ("hedge", "idk, maybe one day {other}? it's a pipe dream tbh")],
    },
    "occupation": {
        "values": [("nurse",), ("barista",), ("paralegal",), ("carpenter",), ("data analyst", "analyst"),
                   ("sous chef", "chef"), ("high school teacher", "teacher")],
        "original": ["I work as a {old} at a place about twenty minutes from home",
                     "fyi I'm a {old}, so my schedule is all over the place",
                     "being a {old} pays the bills but it's exhausting some weeks"],
        "update": ["update on the work front: handed in my notice as a {old} and started as a {new} on monday!!",
                   "I retrained, I'm a {new} now, not a {old} anymore",
                   "new job - {new}. way better hours than when I was a {old}",
                   "ok so officially my title is {new} as of this week"],
        "question": ["What does the user do for work?", "What is the user's job?"],
        "distractor": [("other_person", "my roommate is a {other} and she says the job market is rough right now"),
                       ("question", "how much does a {other} usually earn in a year?"),
                       ("plan", "signed up for a one-day taster course to see what working as a {other} is like"),
                       ("hypothetical", "honestly if I could start over I'd have become a {other}"),
                       ("hedge", "sometimes I wonder whether I'd be happier as a {other}, but probably not")],
    },
    "diet": {
        "values": [("vegetarian",), ("vegan",), ("pescatarian",), ("keto",), ("gluten-free", "gluten free"), ("paleo",)],
        "original": ["just so you know I eat {old}, so keep the recipe ideas {old} please",
                     "I've been {old} since college",
                     "my diet is {old}, has been for ages"],
        "update": ["went fully {new} in january, so the {old} recipes don't really work for me anymore",
                   "small change: I'm {new} now rather than {old}",
                   "doctor talked me into going {new}. rip {old} era",
                   "eating {new} these days fwiw"],
        "question": ["What diet does the user follow?", "What kind of food does the user eat?"],
        "distractor": [("other_person", "my girlfriend is trying {other} this month, so we end up cooking two dinners"),
                       ("question", "is a {other} diet actually healthier or is that all hype?"),
                       ("plan", "going to a {other} cooking class saturday just for fun"),
                       ("hypothetical", "if my cholesterol gets any worse I might have to go {other}"),
                       ("hedge", "I kinda want to try {other} but ehh, probably wouldn't stick with it")],
    },
    "coffee_order": {
        "values": [("flat white",), ("cortado",), ("oat latte",), ("cold brew",), ("americano",),
                   ("matcha latte", "matcha"), ("espresso",)],
        "original": ["my usual order is a {old}, every single morning",
                     "I basically run on {old}s lol",
                     "can you remember I like a {old} when we plan cafe stops"],
        "update": ["my go-to is a {new} now, the {old} phase is over",
                   "new order at the cafe: {new}. got bored of {old}",
                   "been ordering {new} for weeks, forgot to tell you",
                   "barista talked me into a {new} and now I'm hooked, it's all I get"],
        "question": ["What coffee does the user usually order?", "What's the user's usual drink at the cafe?"],
        "distractor": [("other_person", "my coworker drinks like four {other}s a day, it's wild"),
                       ("question", "what's the actual difference between a {other} and regular coffee?"),
                       ("plan", "gonna try the {other} at that new place tomorrow, their reviews are great"),
                       ("hypothetical", "if they ever made a decaf {other} that tasted decent I'd buy it"),
                       ("hedge", "might grab a {other} later, not sure yet")],
    },
    "code_editor": {
        "values": [("VS Code", "vscode"), ("Neovim", "nvim"), ("Emacs",), ("PyCharm",), ("Zed",),
                   ("Sublime Text", "Sublime"), ("Helix",)],
        "original": ["I code mostly in {old}, with a ridiculous number of plugins",
                     "my editor is {old}, been using it for years",
                     "all my dotfiles are set up around {old}"],
        "update": ["ditched {old}, I'm on {new} full time now",
                   "I've been living in {new} for a month and honestly not going back",
                   "ported my whole setup over to {new}; {old} was getting too sluggish",
                   "editor change: {new} is my daily driver now"],
        "question": ["Which code editor does the user use?", "What is the user's main editor?"],
        "distractor": [("other_person", "the new guy on my team uses {other} and keeps evangelizing it"),
                       ("question", "does {other} have decent python support?"),
                       ("plan", "I'll poke at {other} this weekend, just to see what the fuss is about"),
                       ("hypothetical", "if {other} had better remote editing I'd consider it"),
                       ("hedge", "maybe {other} someday, idk, the keybindings scare me")],
    },
    "laptop": {
        "values": [("ThinkPad",), ("MacBook Air",), ("Dell XPS", "XPS"), ("Framework",), ("Surface Laptop", "Surface"),
                   ("MacBook Pro",), ("Chromebook",)],
        "original": ["I'm typing this on my {old}, it's about four years old",
                     "work gave me a {old} and I use it for literally everything",
                     "my laptop's a {old}, battery's getting weak though"],
        "update": ["the {old} finally died so I bought a {new}",
                   "replaced my laptop - it's a {new} now",
                   "new machine day! {new}, sold the old {old} on ebay",
                   "using a {new} these days, the {old} lives in a drawer"],
        "question": ["What laptop does the user have?", "What computer does the user use?"],
        "distractor": [("other_person", "my dad wants a {other} for christmas, any thoughts?"),
                       ("question", "are {other}s any good for video editing?"),
                       ("plan", "I'm gonna look at {other}s when the black friday sales start, for my kid"),
                       ("hypothetical", "if money were no object I'd get a {other}"),
                       ("hedge", "maybe my next laptop will be a {other}, maybe not")],
    },
    "books_read": {
        "values": [("seven", "7"), ("eleven", "11"), ("fourteen", "14"), ("nineteen", "19"), ("twenty-two", "22"),
                   ("thirty", "30")],
        "original": ["I've read {old} books so far this year, trying to hit fifty",
                     "my reading tracker says {old} books finished this year",
                     "I'm at {old} books for the year"],
        "update": ["tracker's at {new} books this year now",
                   "reading count update: {new} now (was {old})",
                   "up to {new} books!! the long train commute helps",
                   "I'm on {new} for the year after the holiday binge"],
        "question": ["How many books has the user read this year?", "What's the user's reading count for the year?"],
        "distractor": [("other_person", "my book club friend already hit {other} books, she's a machine"),
                       ("question", "is {other} books a year a lot compared to the average person?"),
                       ("plan", "my goal for next year is {other} books, we'll see"),
                       ("hypothetical", "if I didn't have kids I'd probably read {other} books a month lol"),
                       ("hedge", "might end up around {other} by december? hard to say")],
    },
    "chess_rating": {
        "values": [("1180", "1,180"), ("1245", "1,245"), ("1310", "1,310"), ("1402", "1,402"), ("1455", "1,455"),
                   ("1520", "1,520")],
        "original": ["my rapid rating on chess.com is {old}",
                     "I'm sitting at {old} in rapid, been stuck there for months",
                     "chess update: rated {old} right now"],
        "update": ["broke through!! {new} rapid as of tonight",
                   "wild week, rating went from {old} to {new}",
                   "I'm {new} now after that weekend tournament",
                   "rating's {new} as of today"],
        "question": ["What is the user's chess rating?", "What's the user rated on chess.com?"],
        "distractor": [("other_person", "my nephew is already {other} and he's twelve, humbling"),
                       ("question", "what percentile is a {other} rating roughly?"),
                       ("plan", "goal is to hit {other} before summer"),
                       ("hypothetical", "if I actually studied openings I'd be {other} easy"),
                       ("hedge", "I feel like I play more like a {other} on a good day, but the number says otherwise")],
    },
    "car_insurance": {
        "values": [("$94", "94"), ("$112", "112"), ("$87", "87"), ("$131", "131"), ("$105", "105"), ("$78", "78")],
        "original": ["my car insurance is {old} a month with Geico",
                     "I pay {old}/month for car insurance, which feels like a lot",
                     "car insurance premium: {old} monthly"],
        "update": ["renewal letter came, my car insurance is going to {new} a month",
                   "shopped around and the best quote came out at {new}/mo, so that's what I pay now",
                   "premium got re-rated from {old} to {new} after the fender bender",
                   "insurance is {new} a month now"],
        "question": ["How much does the user pay for car insurance?", "What is the user's monthly car insurance premium?"],
        "distractor": [("other_person", "my sister pays {other} for hers and she has two speeding tickets??"),
                       ("question", "is {other} a month normal for someone my age?"),
                       ("plan", "budgeting {other} a month for insurance on the second car we're buying next year"),
                       ("hypothetical", "if I added my partner as a driver it'd be like {other}"),
                       ("hedge", "the agent said it might be {other} at renewal but nothing's confirmed")],
    },
    "partner": {
        "values": [("Priya",), ("Tomasz",), ("Lena",), ("Marcus",), ("Aiko",), ("Diego",)],
        "original": ["my partner {old} and I are planning a trip",
                     "I've been seeing {old} for about a year",
                     "{old}, who I'm dating, thinks I work too much"],
        "update": ["{old} and I split up in the summer. I'm with {new} now and it's going great",
                   "so... I'm seeing {new} now. things with {old} ended a while ago",
                   "relationship update: {new} and I made it official",
                   "me and {new} have been together a few months now"],
        "question": ["Who is the user dating?", "What is the name of the user's partner?"],
        "distractor": [("other_person", "my best friend started dating someone called {other}"),
                       ("question", "is {other} a common name in spain?"),
                       ("plan", "we're having {other} over for dinner friday, she was my college roommate"),
                       ("hypothetical", "if I'd stayed in Berlin I'd probably have ended up with {other}"),
                       ("hedge", "there's this person {other} at the gym who might be flirting with me? no idea")],
    },
    "summer_trip": {
        "values": [("Iceland",), ("Portugal",), ("Kyoto",), ("Patagonia",), ("Croatia",), ("Vietnam",), ("Morocco",)],
        "original": ["our summer trip this year is {old}, booked the flights already",
                     "we're going to {old} in august for two weeks",
                     "planning the big vacation: {old}!"],
        "update": ["change of plans, the {old} trip is off, we're doing {new} instead",
                   "we rebooked everything - summer vacation is {new} now",
                   "{new} it is! flights came out way cheaper than {old}",
                   "scrapped {old} because of the prices, going to {new}"],
        "question": ["Where is the user going on vacation this summer?", "What is the user's summer trip destination?"],
        "distractor": [("other_person", "my coworker just got back from {other} and won't shut up about it"),
                       ("question", "what's the best month to visit {other}?"),
                       ("plan", "for our anniversary next spring we might do a long weekend in {other}"),
                       ("hypothetical", "if we had another week off we'd tack on {other}"),
                       ("hedge", "part of me wishes we'd picked {other}, but whatever")],
    },
    "step_goal": {
        "values": [("6,000", "6000"), ("8,000", "8000"), ("10,000", "10000", "ten thousand"), ("12,000", "12000"),
                   ("7,500", "7500"), ("15,000", "15000")],
        "original": ["my daily step goal is {old}",
                     "I aim for {old} steps a day on my watch",
                     "watch is set to {old} steps, I hit it most days"],
        "update": ["reset my step goal to {new}",
                   "changed the watch target from {old} to {new} steps",
                   "daily goal is {new} steps now, physio's orders",
                   "I'm going for {new} steps a day as the target now"],
        "question": ["What is the user's daily step goal?", "How many steps a day does the user aim for?"],
        "distractor": [("other_person", "my mom does {other} steps a day without even trying"),
                       ("question", "is {other} steps enough to actually lose weight?"),
                       ("plan", "on the hiking trip I'll probably do {other} a day"),
                       ("hypothetical", "if I had a dog I'd hit {other} easily"),
                       ("hedge", "yesterday I think I did like {other}? the watch was glitchy")],
    },
    "password_manager": {
        "values": [("1Password",), ("Bitwarden",), ("LastPass",), ("Dashlane",), ("KeePassXC", "KeePass"), ("Proton Pass",)],
        "original": ["I keep all my logins in {old}",
                     "I use {old} for passwords, family plan",
                     "my passwords live in {old}, don't suggest anything else"],
        "update": ["after the breach news I exported everything out of {old} into {new}",
                   "password manager is {new} now fyi",
                   "finally migrated to {new}, took a whole evening",
                   "we're a {new} household now, cancelled {old}"],
        "question": ["Which password manager does the user use?", "Where does the user store passwords?"],
        "distractor": [("other_person", "my wife uses {other} on her phone and likes it"),
                       ("question", "is {other} open source?"),
                       ("plan", "I'm going to set up {other} for my parents on my next visit"),
                       ("hypothetical", "if {other} had a cheaper family plan I'd think about it"),
                       ("hedge", "been hearing good stuff about {other}, might look into it eventually")],
    },
    "launch_month": {
        "values": [("February",), ("March",), ("April",), ("June",), ("September",), ("November",)],
        "original": ["our app launch is scheduled for {old}",
                     "we're shipping v2 in {old}, that's the plan anyway",
                     "the product goes live in {old}, so I'm slammed until then"],
        "update": ["launch slipped to {new}, the {old} date was never realistic",
                   "leadership pushed the release out to {new}",
                   "launch date changed AGAIN, it's {new} now",
                   "new launch date is sometime in {new}"],
        "question": ["When is the user's product launch?", "What month is the launch planned for?"],
        "distractor": [("other_person", "our competitor is launching in {other}, which stresses my boss out"),
                       ("question", "is {other} a bad time to launch a consumer app?"),
                       ("plan", "I'm taking a week off in {other} no matter what"),
                       ("hypothetical", "if QA finds another blocker it could slip to {other}"),
                       ("hedge", "there's talk of {other} but nobody's committed to anything")],
    },
    "dentist": {
        "values": [("Dr. Okafor", "Okafor"), ("Dr. Lindqvist", "Lindqvist"), ("Dr. Brennan", "Brennan"),
                   ("Dr. Haddad", "Haddad"), ("Dr. Moreau", "Moreau"), ("Dr. Tanaka", "Tanaka")],
        "original": ["my dentist is {old} over on Elm Street",
                     "I see {old} for cleanings twice a year",
                     "{old} has been my dentist since I was a kid"],
        "update": ["new dentist! {new}, way gentler than {old}",
                   "{old} retired so I'm going to {new} now",
                   "I see {new} for my teeth these days",
                   "insurance changed so I had to find a new dentist, it's {new}"],
        "question": ["Who is the user's dentist?", "Which dentist does the user see?"],
        "distractor": [("other_person", "my kid's orthodontist is {other}, super nice"),
                       ("question", "do you know if {other} takes new patients?"),
                       ("plan", "got a consult with {other} about the wisdom tooth next week, just a second opinion"),
                       ("hypothetical", "if the root canal goes badly I might see {other}"),
                       ("hedge", "a friend recommended {other}, I'll maybe check them out sometime")],
    },
    "hourly_rate": {
        "values": [("$65", "65"), ("$80", "80"), ("$95", "95"), ("$110", "110"), ("$120", "120"), ("$140", "140")],
        "original": ["I charge {old} an hour for freelance design work",
                     "my freelance rate is {old}/hr",
                     "clients pay me {old} per hour right now"],
        "update": ["reset my rate to {new} an hour starting this month",
                   "new rate card: {new}/hr, the {old} days are over",
                   "my hourly is {new} now. felt scary but nobody pushed back",
                   "updated my rates: {new} per hour, for everyone"],
        "question": ["What is the user's freelance hourly rate?", "How much does the user charge per hour?"],
        "distractor": [("other_person", "a friend in the same field charges {other}/hr, makes me wonder"),
                       ("question", "is {other} an hour reasonable for a senior illustrator?"),
                       ("plan", "by the end of next year I want to be at {other} an hour"),
                       ("hypothetical", "if I specialized in UX I could probably ask {other}"),
                       ("hedge", "maybe I should be charging {other}? I really don't know")],
    },
    "golf_handicap": {
        "values": [("eighteen", "18"), ("fourteen", "14"), ("twenty", "20"), ("eleven", "11"), ("nine", "9"),
                   ("sixteen", "16")],
        "original": ["my golf handicap is {old}",
                     "I play off {old}, pretty average",
                     "handicap's sitting at {old} at the moment"],
        "update": ["handicap got recalculated to {new} after that round on saturday!!",
                   "I play off {new} now",
                   "official handicap went from {old} to {new}",
                   "club revised my handicap, it's {new} now"],
        "question": ["What is the user's golf handicap?", "What handicap does the user play off?"],
        "distractor": [("other_person", "my playing partner is a {other} and still beat me by a mile"),
                       ("question", "what does a {other} handicap mean in terms of average score?"),
                       ("plan", "I'd like to get down to {other} by next season"),
                       ("hypothetical", "if I could putt I'd be a {other}, no question"),
                       ("hedge", "I played like a {other} handicapper today? fluke probably")],
    },
}

# Hand-written updates whose old and new values are worded differently, corrections included:
# (family, original, second, question, stale_terms, current_terms).
UPDATE_PAIRS = [
    ("half_marathon_pb", "My half marathon PB is 2:04, set it in Cardiff last spring",
     "Ran the Berlin half on sunday in 1:57:40!!! new PB, legs are destroyed",
     "What is the user's half marathon personal best?", ("2:04",), ("1:57:40",)),
    ("child_age", "my daughter is four and obsessed with dinosaurs",
     "can't believe my daughter turned five yesterday, we did a whole dino party",
     "How old is the user's daughter?", ("four",), ("five",)),
    ("body_weight", "I weigh about 210 lbs right now, trying to get that down",
     "scale said 196 this morning, slow and steady",
     "How much does the user weigh?", ("210",), ("196",)),
    ("apartment_rent", "we pay twenty-one hundred a month for the flat",
     "landlord raised us to $2,350 at renewal, ugh",
     "How much rent does the user pay?", ("twenty-one hundred",), ("$2,350", "2,350")),
    ("age", "I'm 34 btw, if that matters for the insurance stuff",
     "sorry, typo earlier - I'm 43 not 34, fat fingers",
     "How old is the user?", ("34",), ("43",)),
    ("kids_count", "I've got three kids under ten, so weekends are loud",
     "correction: two kids, not three. I was counting my nephew who stays with us half the week",
     "How many children does the user have?", ("three",), ("two",)),
    ("job_title", "I'm a junior developer at a fintech startup",
     "got promoted!! senior engineer as of this morning",
     "What is the user's job title?", ("junior developer",), ("senior engineer",)),
    ("job_title", "My title is Associate Product Manager, which is a mouthful",
     "they finally made me Product Lead, title change went through today",
     "What is the user's job title?", ("associate product manager",), ("product lead",)),
    ("salary", "I make 68k before tax",
     "accepted the new offer, base is $81,000 plus a small bonus",
     "What is the user's salary?", ("68k",), ("$81,000", "81,000", "81k")),
    ("house_deposit", "we've saved about £12k for the house deposit",
     "deposit fund just crossed £15,000!",
     "How much has the user saved for a house deposit?", ("£12k", "12k"), ("£15,000", "15,000")),
    ("relationship_status", "I'm single and not really looking right now",
     "so I met someone at a friend's wedding and we're officially a thing, her name's Ines",
     "Is the user in a relationship?", ("single",), ("ines",)),
    ("relationship_status", "my fiance Rob and I are getting married next June",
     "Rob and I tied the knot last weekend, I have a husband now!!",
     "Is the user married?", ("fiance",), ("husband",)),
    ("phone", "I'm on an iPhone 12, cracked screen and all",
     "picked up a Pixel 8 over the weekend, android convert now",
     "What phone does the user have?", ("iphone 12",), ("pixel 8",)),
    ("car", "I drive a 2011 Corolla with 190k miles on it",
     "the old Toyota's gone - traded it in for a used Mazda CX-5",
     "What car does the user drive?", ("corolla",), ("mazda", "cx-5")),
    ("commute", "I take the 7:15 bus into the city every day",
     "I bike to work now that the new protected lane opened",
     "How does the user get to work?", ("bus",), ("bike",)),
    ("high_score", "my Tetris high score is 184,000",
     "NEW TETRIS RECORD 212,450 lets gooo",
     "What is the user's Tetris high score?", ("184,000",), ("212,450",)),
    ("high_score", "my best bowling game ever was a 187",
     "bowled a 203 last night, first time breaking two hundred",
     "What is the user's best bowling score?", ("187",), ("203",)),
    ("countries_count", "I've been to 23 countries so far",
     "Japan makes it twenty-four countries!",
     "How many countries has the user visited?", ("23",), ("twenty-four",)),
    ("internet_plan", "our internet plan is 300 Mbps for $55 a month",
     "upgraded to gigabit fiber, $70 a month but worth it",
     "What internet plan does the user have?", ("300 mbps",), ("gigabit",)),
    ("music_taste", "I'm really into jazz lately, mostly Coltrane",
     "these days it's all Afrobeats for me, can't stop",
     "What music is the user into?", ("jazz",), ("afrobeats",)),
    ("budget_tool", "I track my budget in a Google Sheet I made years ago",
     "budgeting lives in YNAB now, the spreadsheet was a mess",
     "How does the user track their budget?", ("google sheet",), ("ynab",)),
    ("wedding_date", "wedding's set for the 14th of September",
     "venue double-booked us so the wedding is now August 2nd, a bit earlier than planned",
     "When is the user's wedding?", ("september",), ("august",)),
    ("meditation_streak", "I've meditated 30 days in a row",
     "meditation streak is at 52 days now",
     "How long is the user's meditation streak?", ("30",), ("52",)),
    ("manager", "my manager is Sofia, she's great",
     "reorg happened, I report to Kwame now",
     "Who is the user's manager?", ("sofia",), ("kwame",)),
    ("mortgage_rate", "our mortgage rate is 6.8% fixed",
     "we refinanced and locked in 5.9 for five years",
     "What is the user's mortgage rate?", ("6.8%", "6.8"), ("5.9",)),
]

# -- additive families: many values at once (a second one must not replace the first) ------

ADDITIVE_FAMILIES = {
    "pets": {
        "values": [("dog",), ("cat",), ("rabbit", "bunny"), ("parrot",), ("gecko",), ("hamster",), ("tortoise",)],
        "original": ["we have a {old} named Biscuit", "my {old} is asleep on my keyboard again",
                     "I've had my {old} for six years now"],
        "addition": ["we adopted a {other} too!! the house is chaos", "say hi to our newest family member, a {other}",
                     "caved and got a {other} to keep the other one company"],
        "question": "What pets does the user have?",
    },
    "languages": {
        "values": [("Spanish",), ("Mandarin",), ("German",), ("Portuguese",), ("Arabic",), ("Korean",), ("French",)],
        "original": ["I speak {old} at home with my parents", "I'm fluent in {old}", "{old} is my first language"],
        "addition": ["picked up {other} over the last two years, conversational now",
                     "been taking {other} classes and can actually hold a chat in it now",
                     "add {other} to my languages, passed the B2 exam"],
        "question": "Which languages does the user speak?",
    },
    "podcasts": {
        "values": [("Radiolab",), ("Hardcore History",), ("Freakonomics",), ("Planet Money",), ("Huberman Lab",),
                   ("Darknet Diaries",)],
        "original": ["I listen to {old} on my runs", "{old} is my favourite podcast", "I never miss an episode of {old}"],
        "addition": ["also got hooked on {other} this month", "adding {other} to my rotation",
                     "{other} joined the podcast lineup too"],
        "question": "Which podcasts does the user listen to?",
    },
    "programming_languages": {
        "values": [("Python",), ("Rust",), ("TypeScript",), ("Kotlin",), ("Elixir",), ("Haskell",)],
        "original": ["I mostly write {old} at work", "I know {old} pretty well", "{old} is my strongest language"],
        "addition": ["learned {other} this year for a side project", "I can write {other} too now, shipped my first service in it",
                     "also picked up some {other}"],
        "question": "Which programming languages does the user know?",
    },
    "houseplants": {
        "values": [("monstera",), ("pothos",), ("fiddle leaf fig", "fiddle leaf"), ("snake plant",), ("calathea",),
                   ("ZZ plant",)],
        "original": ["I've got a {old} by the window that's thriving", "my {old} is finally putting out new leaves",
                     "the only plant I haven't killed is my {old}"],
        "addition": ["bought a {other} at the farmers market", "a friend gave me a {other} cutting, it's rooting nicely",
                     "new plant baby: a {other}"],
        "question": "What houseplants does the user have?",
    },
    "board_games": {
        "values": [("Catan",), ("Wingspan",), ("Azul",), ("Gloomhaven",), ("Ticket to Ride",), ("Terraforming Mars",)],
        "original": ["we own {old} and play it most fridays", "{old} is on our shelf",
                     "my partner and I are obsessed with {old}"],
        "addition": ["grabbed {other} in a sale, it's joining the collection", "game night has {other} in it too now",
                     "got {other} for my birthday!"],
        "question": "Which board games does the user own?",
    },
    "children": {
        "values": [("Theo",), ("Maya",), ("Felix",), ("Noor",), ("Oscar",), ("Hana",)],
        "original": ["my kid {old} is starting kindergarten", "{old}, my oldest, is really into lego",
                     "I'm picking up {old} from daycare at five"],
        "addition": ["baby {other} arrived tuesday!! 7lbs 2oz", "we welcomed our second, {other}, last month",
                     "{other} was born on the 3rd, we're exhausted and happy"],
        "question": "What are the names of the user's children?",
    },
    "certifications": {
        "values": [("AWS Solutions Architect", "AWS"), ("CISSP",), ("PMP",), ("CPA",), ("Scrum Master",), ("CCNA",)],
        "original": ["I'm {old} certified", "I hold the {old} certification", "got my {old} a few years back"],
        "addition": ["passed the {other} exam today!", "I'm {other} certified as well now", "added {other} to my certs"],
        "question": "What certifications does the user hold?",
    },
}

# -- distractors written out: a protected statement, then a sentence that must close nothing --
# (kind, family, original, second, question, protected_terms, expected_terms)
DISTRACTOR_PAIRS = [
    ("past_story", "home_city", "I live in Denver, been here since 2019",
     "back when I was in college in Boston I had the worst roommate, he'd eat all my leftovers",
     "Where does the user live?", ("denver",), ("denver",)),
    ("past_story", "occupation", "I'm an ER nurse at St. Mary's",
     "before all this I spent two years bartending, which honestly prepared me for night shifts",
     "What does the user do for work?", ("nurse",), ("nurse",)),
    ("still", "employer", "I work at Shopify on the checkout team",
     "still at the same company btw, just got shuffled to a different team under a new manager",
     "Where does the user work?", ("shopify",), ("shopify",)),
    ("still", "home_city", "We live in Rotterdam, near the old harbour",
     "yep, still in the same apartment, the landlord finally fixed the heating",
     "Where does the user live?", ("rotterdam",), ("rotterdam",)),
    ("no_preference", "airline", "I always fly KLM when I can, love their app",
     "for this trip we just need the cheapest flights to Lima, don't care which airline",
     "Which airline does the user prefer?", ("klm",), ("klm",)),
    ("no_preference", "hotel", "I'm a Marriott loyalist, always stay at Marriott properties",
     "for the conference any hotel near the venue works, no preference really",
     "Which hotel chain does the user prefer?", ("marriott",), ("marriott",)),
    ("negated_wish", "car", "I drive a Subaru Outback",
     "I do NOT want a Tesla, whatever my brother says",
     "What car does the user drive?", ("subaru", "outback"), ("subaru", "outback")),
    ("negated_wish", "diet", "I'm vegetarian, have been since I was 15",
     "I really don't want to go vegan, cheese is life",
     "What diet does the user follow?", ("vegetarian",), ("vegetarian",)),
    ("negated_wish", "home_city", "I live in Seattle",
     "people keep telling me to move to Austin but I have zero interest in that",
     "Where does the user live?", ("seattle",), ("seattle",)),
    ("hypothetical", "occupation", "I'm a high school chemistry teacher",
     "if I had gone to med school I'd be a doctor by now, wild to think about",
     "What does the user do for work?", ("teacher",), ("teacher",)),
    ("hypothetical", "pets", "we have a golden retriever called Mango",
     "if we had a bigger yard I'd totally get a husky as well",
     "What pets does the user have?", ("golden retriever", "mango"), ("golden retriever", "mango")),
    ("other_person", "diet", "I'm pescatarian",
     "my husband just went full carnivore, our fridge is a battlefield",
     "What diet does the user follow?", ("pescatarian",), ("pescatarian",)),
    ("other_person", "phone", "I use a Pixel 7",
     "my mum finally upgraded to an iPhone 15 and keeps facetiming me",
     "What phone does the user have?", ("pixel",), ("pixel",)),
    ("other_person", "salary", "I make 95k a year",
     "my friend just got an offer for 130k at a big tech company, happy for her",
     "What is the user's salary?", ("95k",), ("95k",)),
    ("question", "code_editor", "I use Vim for everything",
     "what do people think of Cursor, is the AI stuff actually useful?",
     "Which code editor does the user use?", ("vim",), ("vim",)),
    ("question", "bank", "I bank with Monzo",
     "does Revolut charge fees for currency exchange?",
     "Which bank does the user use?", ("monzo",), ("monzo",)),
    ("context", "home_city", "I live in Tokyo",
     "still not used to the humidity here tbh, july was brutal",
     "Where does the user live?", ("tokyo",), ("tokyo",)),
    ("context", "gym", "I go to Planet Fitness three times a week",
     "used the hotel gym in Chicago while travelling, fancy but tiny",
     "Which gym does the user go to?", ("planet fitness",), ("planet fitness",)),
    ("context", "car", "I drive a Honda Civic",
     "rented a Jeep for the Moab trip, so fun on the trails",
     "What car does the user drive?", ("honda civic", "civic"), ("honda civic", "civic")),
    ("plan", "occupation", "I'm a product designer at a bank",
     "thinking about maybe doing a UX research bootcamp next year, just for the skills",
     "What does the user do for work?", ("product designer",), ("product designer",)),
    ("plan", "home_city", "I live in Melbourne",
     "we're spending three months in Bali over winter to work remotely",
     "Where does the user live?", ("melbourne",), ("melbourne",)),
    ("hedge", "partner", "My girlfriend Chloe and I just got a place together",
     "I might have a tiny crush on someone from work?? it's nothing, ignore me",
     "Who is the user's partner?", ("chloe",), ("chloe",)),
    ("hedge", "employer", "I work at Deloitte in audit",
     "got a recruiter ping from KPMG, maybe I'll reply, maybe not",
     "Where does the user work?", ("deloitte",), ("deloitte",)),
    ("past_story", "car", "I drive a Kia Sorento",
     "my first car was a beat-up 1998 Volvo, I miss that tank",
     "What car does the user drive?", ("kia", "sorento"), ("kia", "sorento")),
    ("past_story", "languages", "I speak Italian with my grandparents",
     "in high school I took three years of Latin and forgot all of it",
     "Which languages does the user speak?", ("italian",), ("italian",)),
    ("question", "home_city", "I'm in Nairobi",
     "what's the weather like in Cape Town in april?",
     "Where does the user live?", ("nairobi",), ("nairobi",)),
    ("still", "diet", "I've been vegan for 5 years",
     "still going strong on the plant-based thing, five years this month",
     "What diet does the user follow?", ("vegan",), ("vegan",)),
    ("other_person", "pets", "I have two cats, Miso and Tofu",
     "my neighbour got a puppy and it barks at 6am every day",
     "What pets does the user have?", ("cat", "miso", "tofu"), ("cat", "miso", "tofu")),
    ("hypothetical", "apartment_rent", "our rent is $1,800",
     "if we took the bigger unit upstairs it'd be $2,300, no way",
     "How much rent does the user pay?", ("$1,800", "1,800"), ("$1,800", "1,800")),
    ("negated_wish", "notes_app", "I use Notion for all my notes",
     "not interested in Obsidian, stop recommending it lol",
     "Which notes app does the user use?", ("notion",), ("notion",)),
]

# -- cessations: a habit or fact, then the user saying it has ended ------------------------

CESSATION_FAMILIES = {
    "nicotine": {
        "values": [("cigarettes", "cigarette"), ("vapes", "vape", "vaping"), ("cigars", "cigar"),
                   ("nicotine pouches", "nicotine pouch", "nicotine")],
        "original": ["my vice is {old}, have been hooked since college", "I go through a lot of {old}, like daily",
                     "can't get through a workday without {old}"],
        "cessation": ["quit {old} cold turkey three weeks ago", "haven't touched {old} since my birthday, done with that",
                      "I'm off {old} for good now, the cravings are fading"],
        "question": "Does the user use {old}?",
    },
    "membership": {
        "values": [("gym membership", "gym"), ("Costco membership", "Costco"), ("climbing gym pass", "climbing"),
                   ("golf club membership", "golf club")],
        "original": ["we've got a {old} that we actually use", "paying for a {old} every month",
                     "my {old} renews in the spring"],
        "cessation": ["we cancelled the {old}, wasn't worth it", "let the {old} lapse and I'm not renewing",
                      "ended the {old} last week, one less bill"],
        "question": "Does the user have a {old}?",
    },
    "lessons": {
        "values": [("piano lessons", "piano"), ("therapy",), ("Spanish classes", "Spanish"), ("swimming lessons", "swimming")],
        "original": ["I go to {old} every tuesday", "{old} has been a big part of my week", "started {old} in the fall"],
        "cessation": ["stopped going to {old}, it ran its course", "wrapped up {old} for good last month",
                      "no more {old} for me, the schedule just didn't work"],
        "question": "Is the user doing {old}?",
    },
    "club": {
        "values": [("Sunday league football team", "football"), ("bowling league", "bowling"), ("pub quiz team", "pub quiz"),
                   ("community choir", "choir")],
        "original": ["I'm part of a {old} with some old friends", "my {old} is the highlight of my week",
                     "thursday nights are {old} for me"],
        "cessation": ["left the {old}, too many late nights", "I'm out of the {old}, just didn't have the time anymore",
                      "the {old} folded, so that's over"],
        "question": "Is the user part of a {old}?",
    },
    "dating_app": {
        "values": [("Hinge",), ("Tinder",), ("Bumble",), ("Feeld",)],
        "original": ["I'm on {old} and it's exhausting", "been swiping on {old} most nights",
                     "met a few people through {old} recently"],
        "cessation": ["deleted {old} off my phone, taking a break from all that", "deactivated my {old} profile for good",
                      "done with {old}. forever. not kidding"],
        "question": "Does the user use {old}?",
    },
    "side_gig": {
        "values": [("Uber driving", "Uber"), ("DoorDash deliveries", "DoorDash"), ("Etsy shop", "Etsy"), ("dog walking",)],
        "original": ["I do {old} on weekends for extra cash", "my side hustle is {old}",
                     "{old} covers my groceries most months"],
        "cessation": ["gave up {old}, my main job got too busy", "I'm not doing {old} anymore, the math stopped working",
                      "quit {old} in october"],
        "question": "Does the user do {old} on the side?",
    },
    "diet_regime": {
        "values": [("intermittent fasting", "fasting"), ("keto",), ("Whole30",), ("calorie counting",)],
        "original": ["I'm doing {old} right now", "{old} has been working for me", "three months into {old}"],
        "cessation": ["fell off {old} and honestly I'm fine with it", "stopped {old}, it was making me miserable",
                      "I'm off {old} as of this week"],
        "question": "Is the user doing {old}?",
    },
    "supplement": {
        "values": [("creatine",), ("melatonin",), ("fish oil",), ("vitamin D",)],
        "original": ["I take {old} every day", "{old} is part of my morning routine", "been on {old} for a while"],
        "cessation": ["quit taking {old}, didn't notice any difference", "ran out of {old} and decided not to restock",
                      "doc told me to drop the {old}, so I did"],
        "question": "Does the user take {old}?",
    },
    "meal_kit": {
        "values": [("HelloFresh",), ("Blue Apron",), ("Gousto",), ("Home Chef",)],
        "original": ["we get {old} boxes every week", "{old} does most of our dinners", "subscribed to {old} to save time"],
        "cessation": ["cancelled {old}, we're cooking from scratch again",
                      "paused {old} indefinitely - ok, actually cancelled, let's be honest",
                      "said goodbye to {old}, way too much packaging"],
        "question": "Does the user get {old}?",
    },
    "habit": {
        "values": [("nail biting",), ("doomscrolling",), ("late-night snacking", "snacking"), ("skipping breakfast",)],
        "original": ["I have a bad {old} habit", "{old} is my worst habit",
                     "I struggle with {old}, especially when stressed"],
        "cessation": ["kicked the {old} habit, two months clean", "finally broke the {old} habit!",
                      "{old} is a thing of the past for me"],
        "question": "Does the user have a {old} habit?",
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
    """Every ``heldout4`` scenario: updates, then distractors, then cessations (deterministic)."""
    out = _updates() + _distractors() + _cessations()
    ids = [s["id"] for s in out]
    if len(ids) != len(set(ids)):
        raise AssertionError("heldout4 scenario ids must be unique")
    for s in out:
        _check(s)
    return out
