"""The second held-out half (``heldout2``) of the `pymem bench updates` corpus (spent on 2026-12-08).

Its failures were read on 2026-12-08 to find what the statement reading misses, and the
holds head (pymem/bench/heads.py) is trained on it: it is development data now, no longer an
unseen test (heldout4 and heldout5 are).

What it is: for every family of :mod:`pymem.bench.updates_corpus`, one more set of values and
phrasing templates in the same shapes as that module's tables (values; originals, updates,
questions and distractors for update families; originals, additions and a question for
additive families; originals, cessations and a question for cessation families), with as many
of each as the ``heldout`` half has. ``updates_corpus`` merges these tables in as the split
``heldout2`` and generates its scenarios exactly as it does the other two halves.

When and why: written by hand, blind, after the first held-out half had been measured once and
its failures had been seen (so it could no longer serve as an unseen test), and before any
extraction or consistency rule was changed in response. No template string and no value here
repeats one of ``tune`` or ``heldout`` (``updates_corpus`` checks this on import), and no
sentence was taken from elsewhere.

The rule that makes it worth anything: do not read it while changing extraction, prompts,
consistency settings or thresholds, and do not fit anything to its results or failure
examples. Tune on ``tune``; report ``heldout2`` once per round. Once its failures have been
looked at and acted on it is spent, like ``heldout``, and a fresh half must be written.
"""

from __future__ import annotations

# -- update families: one value at a time --------------------------------------------------

UPDATE_FAMILIES: dict[str, dict] = {
    "display_theme": {
        "values": [("Solarized", "solarized theme"), ("Nord", "nord theme"), ("warm-tint mode", "warm tint", "warm-tint")],
        "original": ["Everything on my screens is set to {old}.", "I find {old} the most comfortable to read in."],
        "update": ["Ever since I got the new monitor I've been using {new}.", "Please drop {old} and go with {new}.",
                   "Turns out {new} works better for me than {old}, so that's my setting now.",
                   "I flipped my theme over to {new} yesterday."],
        "question": ["What visual theme has the user chosen?", "Which appearance setting suits the user?"],
        "distractor": [("hypothetical", "Were I coding late every night, {other} would probably be my pick."),
                       ("other_person", "{Other} is what my roommate runs on every device she owns."),
                       ("question", "Does {other} reduce eye strain?"),
                       ("plan", "For today's demo I'm on a borrowed laptop that's stuck in {other}.")],
    },
    "time_zone": {
        "values": [("Central time", "cst", "cdt", "america/chicago"), ("UTC-3", "utc-03:00", "gmt-3"),
                   ("Europe/Helsinki", "eet", "helsinki time"), ("New Zealand time", "nzst", "nzdt", "pacific/auckland")],
        "original": ["All my meetings run on {old}.", "Times should be given to me in {old}."],
        "update": ["I've been on {new} since I moved for the new job.", "My laptop clock says {new} now, and so should you.",
                   "Forget {old}: please put everything on {new}.", "I went from {old} to {new} when I relocated."],
        "question": ["Which time zone do the user's working hours follow?", "What clock should the user's reminders be set to?"],
        "distractor": [("hypothetical", "Were I to accept the transfer, I'd end up on {other}."),
                       ("other_person", "My co-founder's calendar runs on {other}."),
                       ("question", "When it's noon for me, what time is it on {other}?"),
                       ("plan", "For the conference next week I'll temporarily be on {other}.")],
    },
    "home_city": {
        "values": [("Utrecht",), ("Bergen",), ("Brno",), ("Trieste",), ("Gothenburg", "göteborg", "goteborg"), ("Plovdiv",)],
        "original": ["My flat is in {old}.", "{Old} is where I live and work."],
        "update": ["We finally sold the place in {old}; we live in {new} now.",
                   "Got the keys to our new apartment in {new} on Friday.",
                   "Home is no longer {old} - it's {new}.", "I'm settled in {new} now."],
        "question": ["In what city does the user reside?", "Which town does the user live in?"],
        "distractor": [("hypothetical", "Had I taken that scholarship, I'd be living in {other} now."),
                       ("other_person", "{Other} is where my parents retired to."),
                       ("question", "How expensive is rent in {other}?"),
                       ("plan", "I'm spending two weeks in {other} for a work trip.")],
    },
    "employer": {
        "values": [("Saltmarsh Studios",), ("Fernhill Insurance",), ("Orchid Biotech",), ("Granite Peak Consulting",),
                   ("Wavecrest Telecom",)],
        "original": ["I'm on the payroll at {old}.", "I've got a full-time position at {old}."],
        "update": ["Last month was my final one at {old}; I'm at {new} now.", "I've been working for {new} since March.",
                   "I jumped ship to {new}.", "Swapped {old} for {new} - better pay and a shorter commute."],
        "question": ["Which organisation does the user work for?", "Where is the user employed?"],
        "distractor": [("hypothetical", "I'd probably be happier at {other}, if I'm honest."),
                       ("other_person", "{Other} is where my uncle has worked for a decade."),
                       ("question", "How does {other} treat its engineers?"),
                       ("plan", "A recruiter from {other} wants to chat next Tuesday.")],
    },
    "job_title": {
        "values": [("user researcher", "ux researcher"), ("QA engineer", "quality assurance engineer"), ("project manager",),
                   ("machine learning engineer", "ml engineer")],
        "original": ["By profession I'm {a_old}.", "I've spent the last few years working as {a_old}."],
        "update": ["I'm now {a_new}; I left the {old} role behind.", "Officially {a_new} as of this quarter.",
                   "I handed over my {old} duties and took {a_new} job.", "I transferred teams and I'm {a_new} these days."],
        "question": ["What does the user do professionally?", "What is the user's occupation?"],
        "distractor": [("hypothetical", "Back in school I pictured myself becoming {a_other}."),
                       ("other_person", "Both of my housemates are {other}s."),
                       ("question", "What skills does {a_other} need?"),
                       ("plan", "I'm covering for {a_other} on my team while she's on leave.")],
    },
    "name": {
        "values": [("Ines",), ("Bartek",), ("Leila",), ("Oskar",), ("Yuki",)],
        "original": ["Everyone knows me as {old}.", "The name's {old}."],
        "update": ["I've started going by {new} instead of {old}.", "Call me {new}; {old} was just a childhood nickname.",
                   "{New} is what my friends call me now, so please use that.", "I legally changed my first name to {new}."],
        "question": ["By what name should the user be called?", "What does the user like to be called?"],
        "distractor": [("hypothetical", "If I'd had a twin, they'd have been called {other}."),
                       ("other_person", "The new intern, {other}, sits next to me."),
                       ("question", "Is {other} a common name in Sweden?"),
                       ("plan", "In tonight's escape room I'm playing a character called {other}.")],
    },
    "diet": {
        "values": [("Mediterranean",), ("low-FODMAP", "low fodmap"), ("halal",)],
        "original": ["My meals follow a {old} plan.", "I stick to a {old} way of eating."],
        "update": ["I've left {old} eating behind; it's {new} for me now.", "My nutritionist moved me onto {new} meals.",
                   "Eating {new} has worked so much better for me than {old} did.",
                   "From now on, plan my meals as {new}, not {old}."],
        "question": ["What eating plan does the user follow?", "What should the user's meals be like?"],
        "distractor": [("hypothetical", "A {other} diet might suit me if I trained harder."),
                       ("other_person", "Cooking for my in-laws means making everything {other}."),
                       ("question", "Are {other} recipes hard to cook?"),
                       ("plan", "This week I'm doing a {other} challenge with my gym friends.")],
    },
    "code_editor": {
        "values": [("PyCharm",), ("Kakoune",), ("Xcode",), ("Eclipse",)],
        "original": ["I write code in {old} all day.", "My IDE is {old}."],
        "update": ["I gave {old} the boot and code in {new} now.", "After the team standardised on {new}, that's what I use.",
                   "It's {new} rather than {old} for my editing now.",
                   "Moved my config to {new} last weekend and haven't looked back."],
        "question": ["Which IDE does the user code in?", "What development environment does the user prefer?"],
        "distractor": [("hypothetical", "Were I building apps for a living, {other} would be the obvious choice."),
                       ("other_person", "The intern's laptop only has {other} installed."),
                       ("question", "Can {other} open really large files?"),
                       ("plan", "While my workstation is in for repair I'm stuck editing in {other}.")],
    },
    "operating_system": {
        "values": [("Debian",), ("ChromeOS", "chrome os"), ("FreeBSD",)],
        "original": ["My laptop has {old} on it.", "I'm a {old} user."],
        "update": ["{Old} is off my laptop now; it runs {new}.", "I reinstalled everything on {new} over the weekend.",
                   "Been running {new} for a month now, and I'm not going back to {old}.", "My machine is a {new} box these days."],
        "question": ["What operating system runs on the user's computer?", "Which OS should setup guides assume for the user?"],
        "distractor": [("hypothetical", "{Other} would be tempting if my work software ran on it."),
                       ("other_person", "My grandfather's old desktop still runs {other}."),
                       ("question", "Does {other} support my printer?"),
                       ("plan", "I'm booting {other} from a USB stick just to test it.")],
    },
    "response_style": {
        "values": [("numbered lists", "numbered list"), ("code-first replies", "code-first"),
                   ("plain-language answers", "plain language", "plain-language")],
        "original": ["{Old} are the easiest for me to follow.", "When you reply, I like {old}."],
        "update": ["Let's move away from {old}; {new} from here on.", "I've realised {new} help me more.",
                   "Stop giving me {old} and give me {new}.", "My preference has shifted to {new}."],
        "question": ["What answer format works for the user?", "How should replies to the user be structured?"],
        "distractor": [("hypothetical", "On a phone screen {other} might work better."),
                       ("other_person", "{Other} are what my students ask their chatbot for."),
                       ("question", "Can you explain what {other} look like?"),
                       ("plan", "Just for this one question, give me {other}.")],
    },
    "seat_preference": {
        "values": [("middle seat", "middle"), ("upper-deck seat", "upper deck", "upper-deck"),
                   ("over-wing seat", "over-wing", "overwing")],
        "original": ["On flights I go for {a_old}.", "I book {a_old} every time I fly."],
        "update": ["I'm over {old}s; put me in {a_new} from now on.", "My knees prefer {a_new} these days.",
                   "Swap my usual {old} for {a_new}, please.", "Lately it's always {a_new} for me."],
        "question": ["Where on the plane should the user be seated?", "What kind of airline seat does the user want?"],
        "distractor": [("hypothetical", "On an overnight flight I could see myself wanting {a_other}."),
                       ("other_person", "{A_other} is what my colleague always books."),
                       ("question", "Which airlines let you pick {a_other} for free?"),
                       ("plan", "The only thing left on tomorrow's flight was {a_other}, so that's where I'll be.")],
    },
    "notification_channel": {
        "values": [("Viber",), ("Mattermost",), ("Threema",), ("Google Chat", "gchat")],
        "original": ["Please ping me on {old} when something comes up.", "{Old} is the best way to get my attention."],
        "update": ["I've muted {old}; anything urgent should come via {new} now.", "Route my reminders to {new} going forward.",
                   "{New} is where I actually see messages these days.", "I moved my alerts off {old} and onto {new}."],
        "question": ["Through which channel should the user get reminders?", "How should the assistant alert the user?"],
        "distractor": [("hypothetical", "If I were on call, I'd want pages through {other}."),
                       ("other_person", "My landlord only answers on {other}."),
                       ("question", "Does {other} work without a phone number?"),
                       ("plan", "For the hackathon this weekend everything goes over {other}.")],
    },
    "phone_platform": {
        "values": [("Motorola",), ("Sony Xperia", "xperia"), ("Nokia",)],
        "original": ["My daily phone is {a_old}.", "I text everyone from my {old}."],
        "update": ["My {old} died, so I'm on {a_new} now.", "I've been carrying {a_new} since my birthday.",
                   "I upgraded: out with the {old}, in with {a_new}.", "It's {a_new} in my pocket these days."],
        "question": ["What smartphone model does the user own?", "Which phone does the user use every day?"],
        "distractor": [("hypothetical", "With a bigger budget I'd have bought {a_other}."),
                       ("other_person", "The phone my son got for school is {a_other}."),
                       ("question", "Can {a_other} run banking apps?"),
                       ("plan", "I'm borrowing my brother's {other} until mine is repaired.")],
    },
    "commute_mode": {
        "values": [("by tram", "tram"), ("by ferry", "ferry"), ("by carpool", "carpool", "carpooling")],
        "original": ["I get into work {old} most days.", "Every morning I travel {old}."],
        "update": ["The new route means I go in {new} now.", "Ditched going {old} - I travel {new} these days.",
                   "I've been commuting {new} since the timetable changed.",
                   "Getting to the office {new} is my routine now, rather than {old}."],
        "question": ["By what means does the user get to work?", "How does the user usually reach the office?"],
        "distractor": [("hypothetical", "If the line ran past my street I'd go {other}."),
                       ("other_person", "Going {other} is how my husband gets to the hospital."),
                       ("question", "Is going {other} cheaper than a monthly parking pass?"),
                       ("plan", "Tomorrow, because of the strike, I'll have to go {other}.")],
    },
    "pronouns": {
        "values": [("he/they",), ("fae/faer",), ("ey/em",)],
        "original": ["I go by {old} pronouns.", "Use {old} when you talk about me."],
        "update": ["I've updated my pronouns to {new}.", "Please switch from {old} to {new} when referring to me.",
                   "{New} fits me better now.", "I've been using {new} for a few months now."],
        "question": ["What pronouns does the user go by?", "When talking about the user, which pronouns apply?"],
        "distractor": [("hypothetical", "Had I known about {other} as a teenager, I might have tried them."),
                       ("other_person", "{Other} are the pronouns my sibling uses."),
                       ("question", "How do verbs work with {other}?"),
                       ("plan", "At the workshop I'll print badges that show {other} as an example.")],
    },
    "coffee_order": {
        "values": [("cappuccino",), ("espresso tonic",), ("mocha",)],
        "original": ["My café order is always {a_old}.", "Most mornings I grab {a_old} on the way in."],
        "update": ["I've traded my {old} habit for {a_new}.", "The barista knows me for {a_new} now.",
                   "{A_new}, not {a_old}, is what I order now.", "I keep ordering {a_new} lately."],
        "question": ["What coffee drink does the user usually order?", "What should the user's coffee order be?"],
        "distractor": [("hypothetical", "On a really hot day I might go for {a_other}."),
                       ("other_person", "{A_other} is my sister's standard order."),
                       ("question", "Is {a_other} very sweet?"),
                       ("plan", "I'm trying {a_other} as a one-off today.")],
    },
    "favourite_language": {
        "values": [("Julia",), ("Erlang",), ("Nim",), ("Racket",)],
        "original": ["{Old} has been my favourite language for ages.", "Nothing beats {old} for me when I'm coding."],
        "update": ["I used to love {old}, but {new} is my favourite now.", "These days I reach for {new} whenever I can.",
                   "{New} has won me over completely.", "My top language changed from {old} to {new}."],
        "question": ["What programming language does the user enjoy the most?",
                     "Which language is the user's favourite to write?"],
        "distractor": [("hypothetical", "For a numerical project I might consider {other}."),
                       ("other_person", "{Other} is my tech lead's pet language."),
                       ("question", "Does {other} have a good package manager?"),
                       ("plan", "For this weekend's game jam we're required to use {other}.")],
    },
}

# -- attributes that hold many values: a second value is an addition, not a correction ----

ADDITIVE_FAMILIES: dict[str, dict] = {
    "pets": {
        "values": [("hamster",), ("guinea pig",), ("gecko",)],
        "original": ["My {old} keeps me company while I work.", "I share my flat with {a_old}."],
        "addition": ["We brought home {a_other} last weekend, so that's two pets now.",
                     "Our family grew: we now have {a_other} as well."],
        "question": ["What animals does the user keep?"],
    },
    "allergies": {
        "values": [("dust mites", "dust mite"), ("bee stings", "bee sting"), ("ibuprofen",)],
        "original": ["My medical file lists an allergy to {old}.", "Exposure to {old} triggers my allergy."],
        "addition": ["The allergist added {other} to my list.",
                     "It turns out I've got an allergy to {other} on top of that."],
        "question": ["What allergies should be considered for the user?"],
    },
    "languages_spoken": {
        "values": [("Dutch",), ("Korean",), ("Swahili",)],
        "original": ["{Old} is my native language.", "I use {old} every day at home."],
        "addition": ["I've learned enough {other} to hold a conversation.", "Besides that, I can speak {other}."],
        "question": ["Which languages is the user able to speak?"],
    },
    "hobbies": {
        "values": [("woodworking",), ("photography",), ("trail running", "trail-running")],
        "original": ["Most evenings you'll find me doing {old}.", "{Old} is my favourite way to unwind."],
        "addition": ["I recently picked up {other} as another hobby.", "On top of that, I've got into {other}."],
        "question": ["Which pastimes does the user enjoy?"],
    },
    "foods_liked": {
        "values": [("sushi",), ("shakshuka",), ("pho",)],
        "original": ["{Old} is my comfort food.", "Whenever we eat out I want {old}."],
        "addition": ["{Other} has become another favourite of mine.", "I've also developed a real taste for {other}."],
        "question": ["What foods does the user enjoy eating?"],
    },
}

# -- cessations: the user stops something; nothing replaces it -----------------------------

CESSATION_FAMILIES: dict[str, dict] = {
    "tool_use": {
        "values": [("Figma",), ("Asana",), ("Evernote",)],
        "original": ["Every project of mine lives in {old}.", "I open {old} first thing each morning."],
        "cessation": ["I deleted my {old} account last week.", "{Old} isn't part of my setup any longer."],
        "question": ["What applications does the user work with?"],
    },
    "daily_drink": {
        "values": [("matcha",), ("orange juice",), ("kefir",)],
        "original": ["My mornings start with {old}.", "I get through a lot of {old} every day."],
        "cessation": ["{Old} is off my menu now.", "I kicked my {old} habit a few weeks ago."],
        "question": ["What does the user drink every day?"],
    },
    "sport": {
        "values": [("basketball",), ("handball",), ("ice hockey", "hockey")],
        "original": ["I train for {old} twice a week.", "Thursday nights are {old} nights for me."],
        "cessation": ["I hung up my {old} gear for good.", "My {old} days are over."],
        "question": ["Which sports is the user active in?"],
    },
    "diet_restriction": {
        "values": [("lactose-free", "lactose free"), ("kosher",), ("sugar-free", "sugar free")],
        "original": ["Everything I eat has to be {old}.", "I only eat {old} food."],
        "cessation": ["{Old} eating is behind me now.", "I've dropped the {old} rule from my diet."],
        "question": ["Are there foods the user avoids?"],
    },
    "membership": {
        "values": [("Audible subscription", "audible"), ("museum pass", "museum"),
                   ("co-working membership", "co-working", "coworking")],
        "original": ["I renew my {old} every year.", "{A_old} is one of my monthly expenses."],
        "cessation": ["My {old} ended and I'm not renewing.", "I quit paying for {a_old}."],
        "question": ["What does the user pay a recurring fee for?"],
    },
    "vehicle": {
        "values": [("pickup truck", "pickup"), ("Subaru",), ("e-bike", "ebike", "electric bike")],
        "original": ["My {old} is parked outside.", "{A_old} is how I get around."],
        "cessation": ["I traded in the {old} and didn't replace it.", "Someone bought my {old} off me, so I'm without one now."],
        "question": ["What vehicles does the user have?"],
    },
}
