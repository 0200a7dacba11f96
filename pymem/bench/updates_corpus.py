"""The corpus of `pymem bench updates`: corrections, distractors and cessations in users' words.

Three kinds of scenario, each two statements by one user, the second observed later:

  update      the user states a value, then corrects it ("I prefer dark mode" ... "Actually,
              I switched to light mode"). An agent's question must now be answered with the
              new value: ``current_terms`` are aliases of the new value, ``stale_terms`` of
              the old one.
  distractor  the second statement must not replace the first: an unrelated preference, a
              hypothetical, someone else's fact, a question, a plan, or one more value of an
              attribute that holds many (a second pet). ``protected_terms`` are aliases of the
              first value, which must stay current; ``expected_terms`` what retrieval for
              ``question`` should still find.
  cessation   the user stops something ("I use Vim" ... "I no longer use Vim");
              ``ceased_terms`` are aliases of what is no longer true.

How it was built: every sentence comes from the tables below, written by hand for this
benchmark (no text taken from elsewhere). Each family lists its values and its phrasing
templates (originals, updates, distractors, cessations, questions) in two disjoint halves,
``tune`` and ``heldout``; a scenario takes its phrasings and values from one half only, so a
rule or prompt fitted to the tune half has never seen a held-out sentence or value. Many
values are ones a small hand-written gazetteer would not know (Cluj, Tampere, Northwind Labs,
"Pacific time", Helix, xe/xem). The held-out half was written, with the rest of this file,
before any tuning of extraction or consistency against this benchmark; changing it later
would void that, so tune on ``tune`` and only report ``heldout``.

A third half, ``heldout2``, lives in :mod:`pymem.bench.updates_corpus_heldout2` (same shapes,
merged into the tables below on import). It was written blind after ``heldout`` had been
measured and its failures seen, so it is the unseen test now: do not read it or tune on it.
Its scenarios come from a random stream of their own and follow the other halves' within each
type, so adding it left every ``tune`` and ``heldout`` scenario, and their order, unchanged.

The generator is deterministic: ``corpus(seed)`` uses only ``random.Random(seed)`` (and, for
``heldout2``, ``random.Random(f"{seed}-heldout2")``).
Placeholders: ``{old}``, ``{new}``, ``{other}`` are values; ``{a_old}`` adds the article
("an exit-row seat"); ``{Old}`` capitalises the first letter for a sentence start. Term
matching (``mentions``) is by whole words, lowercased, with an optional plural ``s``/``es``.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter

from . import updates_corpus_heldout2

SPLITS = ("tune", "heldout", "heldout2")

# -- update families: one value at a time --------------------------------------------------
# A value is (surface text, extra aliases...); every alias is matched lowercased.

UPDATE_FAMILIES: dict[str, dict] = {
    "display_theme": {
        "values": {
            "tune": [("dark mode", "dark theme"), ("sepia mode", "sepia"), ("high-contrast mode", "high contrast")],
            "heldout": [("light mode", "light theme"), ("dim mode", "dimmed theme"), ("grayscale mode", "greyscale")],
        },
        "original": {
            "tune": ["I prefer {old}.", "Please show everything in {old}."],
            "heldout": ["I like my apps in {old}.", "{Old} is easiest on my eyes."],
        },
        "update": {
            "tune": ["Actually, I switched to {new}.", "Not {old} anymore - {new} please.",
                     "I've gone over to {new} these days.", "Please change my display to {new}."],
            "heldout": ["{New} is better for me now.", "I switched from {old} to {new}.",
                        "Use {new} from now on; I'm done with {old}.", "These days I keep everything in {new}."],
        },
        "question": {
            "tune": ["Which display theme does the user prefer?", "How should the interface look for the user?"],
            "heldout": ["What colour scheme should the app use for the user?", "What screen theme does the user like?"],
        },
        "distractor": {
            "tune": [("hypothetical", "If I worked outdoors I'd probably want {other}."),
                     ("other_person", "My boss swears by {other}."),
                     ("question", "Should I switch to {other}?"),
                     ("plan", "I might try {other} for a week.")],
            "heldout": [("hypothetical", "If my eyes got worse I'd consider {other}."),
                        ("other_person", "My daughter keeps her tablet in {other}."),
                        ("question", "Is {other} better for battery life?"),
                        ("plan", "Maybe I'll experiment with {other} next month.")],
        },
    },
    "time_zone": {
        "values": {
            "tune": [("CET", "central european time"), ("Pacific time", "pst", "pdt", "america/los_angeles"),
                     ("Asia/Tokyo", "jst", "japan time", "tokyo time"), ("UTC+5:30", "ist", "india time", "asia/kolkata")],
            "heldout": [("Eastern time", "est", "edt", "america/new_york"), ("UTC+2", "utc+02:00", "gmt+2"),
                        ("Australia/Sydney", "aest", "sydney time"), ("Mountain time", "mst", "mdt", "america/denver")],
        },
        "original": {
            "tune": ["My time zone is {old}.", "Schedule things for me in {old}."],
            "heldout": ["I keep my calendar on {old}.", "Please use {old} when you mention times."],
        },
        "update": {
            "tune": ["I'm on {new} now.", "Correction: my time zone is {new}.",
                     "I moved, so I'm on {new} these days rather than {old}.", "Actually, it's {new} for me now."],
            "heldout": ["Switch my time zone to {new}, please.", "My clock is set to {new} now.",
                        "No longer on {old}; it's {new} for me now.", "Since the relocation my hours follow {new}."],
        },
        "question": {
            "tune": ["What time zone is the user in?", "Which time zone should meetings use for the user?"],
            "heldout": ["In which time zone should times be shown to the user?", "What is the user's local time zone?"],
        },
        "distractor": {
            "tune": [("hypothetical", "If I took the remote job I'd be working on {other}."),
                     ("other_person", "My client is on {other}."),
                     ("question", "What time is it in {other} right now?"),
                     ("plan", "I might spend a few weeks on {other} this winter.")],
            "heldout": [("hypothetical", "If I lived closer to my family I'd be on {other}."),
                        ("other_person", "Our support team works on {other}."),
                        ("question", "How many hours ahead is {other}?"),
                        ("plan", "There's a chance I'll travel somewhere on {other} in June.")],
        },
    },
    "home_city": {
        "values": {
            "tune": [("Lisbon",), ("Cluj", "cluj-napoca"), ("Ghent", "gent"), ("Tampere",), ("Bologna",), ("Leipzig",)],
            "heldout": [("Porto",), ("Aarhus",), ("Graz",), ("Valencia",), ("Kraków", "krakow"), ("Ljubljana",)],
        },
        "original": {
            "tune": ["I live in {old}.", "Home for me is {old}."],
            "heldout": ["I'm based in {old}.", "I've lived in {old} for a few years now."],
        },
        "update": {
            "tune": ["I've moved to {new}.", "I live in {new} now.",
                     "We relocated from {old} to {new} last month.", "Actually, home is {new} these days."],
            "heldout": ["I left {old} and I'm in {new} now.", "Just finished moving to {new}!",
                        "My new place is in {new}.", "These days I call {new} home."],
        },
        "question": {
            "tune": ["Where does the user live?", "Which city is the user's home?"],
            "heldout": ["Which city is the user based in?", "Where is the user's home?"],
        },
        "distractor": {
            "tune": [("hypothetical", "If I ever moved, I'd pick {other}."),
                     ("other_person", "My sister lives in {other}."),
                     ("question", "Is {other} a nice place to live?"),
                     ("plan", "I might move to {other} next year.")],
            "heldout": [("hypothetical", "If I could live anywhere, it would be {other}."),
                        ("other_person", "My best friend just moved to {other}."),
                        ("question", "What's the weather like in {other} in spring?"),
                        ("plan", "We're thinking about relocating to {other} someday.")],
        },
    },
    "employer": {
        "values": {
            "tune": [("Northwind Labs",), ("Acme Analytics",), ("Brightline Health",), ("Kestrel Robotics",),
                     ("Bluefin Logistics",)],
            "heldout": [("Quillfeather Media",), ("Harbor & Pine",), ("Tidewater Energy",), ("Copperleaf Software",),
                        ("Larkspur Bank",)],
        },
        "original": {
            "tune": ["I work at {old}.", "I'm employed by {old}."],
            "heldout": ["My employer is {old}.", "I've been with {old} for two years."],
        },
        "update": {
            "tune": ["I changed jobs, I'm at {new} now.", "I no longer work at {old}, I joined {new}.",
                     "I started at {new} last week.", "Correction: I work for {new} now."],
            "heldout": ["I left {old} and now work for {new}.", "New job: I'm with {new} these days.",
                        "{New} hired me, so I'm not at {old} anymore.", "I accepted an offer from {new} and started this month."],
        },
        "question": {
            "tune": ["Where does the user work?", "Which company employs the user?"],
            "heldout": ["Who is the user's employer?", "What company does the user work for?"],
        },
        "distractor": {
            "tune": [("hypothetical", "If I ever left, I'd love to work at {other}."),
                     ("other_person", "My brother works at {other}."),
                     ("question", "Is {other} a good place to work?"),
                     ("plan", "I have an interview with {other} next week, but nothing is decided.")],
            "heldout": [("hypothetical", "In another life I would have joined {other}."),
                        ("other_person", "My partner just got a job at {other}."),
                        ("question", "Do you know anything about the culture at {other}?"),
                        ("plan", "I'm considering applying to {other} at some point.")],
        },
    },
    "job_title": {
        "values": {
            "tune": [("data analyst",), ("product designer",), ("site reliability engineer", "sre"), ("technical writer",)],
            "heldout": [("backend developer", "back-end developer"), ("engineering manager",), ("solutions architect",),
                        ("marketing coordinator",)],
        },
        "original": {
            "tune": ["I work as {a_old}.", "I'm {a_old} by trade."],
            "heldout": ["My job title is {old}.", "I'm {a_old} on a small team."],
        },
        "update": {
            "tune": ["I got promoted, I'm {a_new} now.", "My title changed to {new}.",
                     "Correction: I'm not {a_old} anymore, I'm {a_new}.", "These days I work as {a_new}."],
            "heldout": ["I moved from {old} to {new} this spring.", "New role for me: {new}.",
                        "I've stepped into {a_new} position.", "After the reorg my title is {new}."],
        },
        "question": {
            "tune": ["What is the user's job title?", "What does the user do for a living?"],
            "heldout": ["What role does the user have at work?", "What is the user's current position?"],
        },
        "distractor": {
            "tune": [("hypothetical", "If I weren't doing this, I'd be {a_other}."),
                     ("other_person", "My roommate is {a_other}."),
                     ("question", "What does {a_other} usually earn?"),
                     ("plan", "Someday I might retrain as {a_other}.")],
            "heldout": [("hypothetical", "I sometimes wonder what life as {a_other} would be like."),
                        ("other_person", "My dad worked as {a_other} for decades."),
                        ("question", "How would I become {a_other}?"),
                        ("plan", "I might apply for {a_other} role next year.")],
        },
    },
    "name": {
        "values": {
            "tune": [("Alex",), ("Sam",), ("Priya",), ("Tomasz",), ("Freya",)],
            "heldout": [("Jo",), ("Mateo",), ("Noor",), ("Kasia",), ("Ren",)],
        },
        "original": {
            "tune": ["Call me {old}.", "My name is {old}."],
            "heldout": ["Please address me as {old}.", "I'm {old}, by the way."],
        },
        "update": {
            "tune": ["These days I go by {new}.", "Please call me {new} from now on.",
                     "Actually, I prefer {new} to {old} as a name.", "Correction: my name is {new}."],
            "heldout": ["I'd rather be called {new} now.", "I changed my name to {new}.",
                        "Don't call me {old} anymore; it's {new}.", "Everyone calls me {new} now, so you should too."],
        },
        "question": {
            "tune": ["What should the assistant call the user?", "What is the user's name?"],
            "heldout": ["What name does the user go by?", "How should the user be addressed?"],
        },
        "distractor": {
            "tune": [("hypothetical", "If I had a kid I'd name them {other}."),
                     ("other_person", "My manager's name is {other}."),
                     ("question", "Where does the name {other} come from?"),
                     ("plan", "I might name my next cat {other}.")],
            "heldout": [("hypothetical", "If I wrote under a pen name, it would be {other}."),
                        ("other_person", "My cousin is called {other}."),
                        ("question", "What does the name {other} mean?"),
                        ("plan", "We may call the new project {other}.")],
        },
    },
    "diet": {
        "values": {
            "tune": [("vegetarian",), ("pescatarian",), ("flexitarian",)],
            "heldout": [("vegan",), ("keto", "ketogenic"), ("paleo",)],
        },
        "original": {
            "tune": ["I'm {old}.", "I follow a {old} diet."],
            "heldout": ["My diet is {old}.", "I've been eating {old} for years."],
        },
        "update": {
            "tune": ["I'm {new} now.", "I went from {old} to {new}.",
                     "Actually, I'm {new} these days, not {old}.", "I've become {new}."],
            "heldout": ["I switched to a {new} diet.", "These days I eat {new}.",
                        "No longer {old}: I'm {new} now.", "My doctor put me on a {new} diet, so that's what I follow now."],
        },
        "question": {
            "tune": ["What diet does the user follow?", "Are there dietary rules for the user's meals?"],
            "heldout": ["What are the user's dietary requirements?", "What kind of diet is the user on?"],
        },
        "distractor": {
            "tune": [("hypothetical", "If I had more willpower I'd go {other}."),
                     ("other_person", "My flatmate is {other}."),
                     ("question", "Is a {other} diet healthy long term?"),
                     ("plan", "I might try going {other} for a month.")],
            "heldout": [("hypothetical", "If I lived alone I'd probably eat {other}."),
                        ("other_person", "My girlfriend has been {other} since college."),
                        ("question", "What do {other} people eat for breakfast?"),
                        ("plan", "I'm curious about trying {other} at some point.")],
        },
    },
    "code_editor": {
        "values": {
            "tune": [("Vim",), ("VS Code", "vscode", "visual studio code"), ("Helix",), ("Sublime Text", "sublime")],
            "heldout": [("Emacs",), ("Zed",), ("Neovim", "nvim"), ("IntelliJ IDEA", "intellij")],
        },
        "original": {
            "tune": ["I code in {old}.", "My main editor is {old}."],
            "heldout": ["I do all my programming in {old}.", "{Old} is my editor of choice."],
        },
        "update": {
            "tune": ["Correction: my editor is {new} now.", "I use {new} instead of {old} these days.",
                     "I moved my whole setup over to {new}.", "Actually, I switched to {new}."],
            "heldout": ["I've switched editors: it's {new} now.", "I dropped {old} for {new}.",
                        "{New} is my main editor now.", "Most of my coding happens in {new} these days."],
        },
        "question": {
            "tune": ["Which code editor does the user use?", "What is the user's main editor?"],
            "heldout": ["Which editor should examples be tailored to for the user?", "What editor does the user write code in?"],
        },
        "distractor": {
            "tune": [("hypothetical", "If I had time to learn it properly, I'd try {other}."),
                     ("other_person", "My boss uses {other}."),
                     ("question", "Should I switch to {other}?"),
                     ("plan", "I might give {other} a try next month.")],
            "heldout": [("hypothetical", "If my laptop were faster I'd probably run {other}."),
                        ("other_person", "Half my team swears by {other}."),
                        ("question", "Is {other} good for Python work?"),
                        ("plan", "I'm thinking about trying {other} over the holidays.")],
        },
    },
    "operating_system": {
        "values": {
            "tune": [("Windows",), ("Fedora",), ("macOS", "mac os", "os x")],
            "heldout": [("Ubuntu",), ("Arch Linux",), ("NixOS",)],
        },
        "original": {
            "tune": ["I run {old} on my laptop.", "My computer runs {old}."],
            "heldout": ["My operating system is {old}.", "I use {old} as my OS."],
        },
        "update": {
            "tune": ["I moved to {new} on my laptop.", "I wiped {old} and installed {new}.",
                     "These days my machine runs {new}.", "Actually, I'm on {new} now."],
            "heldout": ["I've switched operating systems: {new} now.", "Goodbye {old}, hello {new}.",
                        "My laptop has been on {new} since last week.", "I replaced {old} with {new} on all my machines."],
        },
        "question": {
            "tune": ["Which operating system does the user use?", "What OS is the user's laptop running?"],
            "heldout": ["Which operating system should instructions target for the user?", "What OS is the user on?"],
        },
        "distractor": {
            "tune": [("hypothetical", "If gaming mattered to me I'd use {other}."),
                     ("other_person", "My son's school laptop runs {other}."),
                     ("question", "Is {other} easy to install?"),
                     ("plan", "I might try {other} on an old laptop someday.")],
            "heldout": [("hypothetical", "If I had a spare machine I'd put {other} on it."),
                        ("other_person", "Our office computers all run {other}."),
                        ("question", "How does {other} handle updates?"),
                        ("plan", "I'm considering dual-booting {other} later this year.")],
        },
    },
    "response_style": {
        "values": {
            "tune": [("concise answers", "concise", "short answers"), ("bullet-point summaries", "bullet points"),
                     ("one-line answers", "one-line")],
            "heldout": [("detailed explanations", "detailed"), ("step-by-step walkthroughs", "step-by-step", "step by step"),
                        ("long-form answers", "long-form")],
        },
        "original": {
            "tune": ["I prefer {old}.", "Give me {old}, please."],
            "heldout": ["{Old} work best for me.", "I like {old} from you."],
        },
        "update": {
            "tune": ["Actually, {new} suit me better now.", "Switch to {new}, please.",
                     "I'd rather have {new} than {old} from now on.", "Correction: I want {new}."],
            "heldout": ["Please give me {new} from now on.", "Not {old} anymore - {new}, please.",
                        "{New} are what I want now.", "I've changed my mind about {old}; I prefer {new} now."],
        },
        "question": {
            "tune": ["How long should answers to the user be?", "What response style does the user prefer?"],
            "heldout": ["How much detail does the user want in answers?", "What format should replies to the user take?"],
        },
        "distractor": {
            "tune": [("hypothetical", "If I were in a rush I'd want {other}."),
                     ("other_person", "My colleague likes {other} from his assistant."),
                     ("question", "Would {other} be easier to read?"),
                     ("plan", "Maybe I'll try {other} some other time.")],
            "heldout": [("hypothetical", "For a really hard topic I might want {other}."),
                        ("other_person", "My manager always asks for {other}."),
                        ("question", "Do most people prefer {other}?"),
                        ("plan", "I might ask for {other} when I'm studying for exams.")],
        },
    },
    "seat_preference": {
        "values": {
            "tune": [("window seat", "window"), ("exit-row seat", "exit-row", "exit row"), ("front-row seat", "front-row", "front row")],
            "heldout": [("aisle seat", "aisle"), ("bulkhead seat", "bulkhead"), ("back-row seat", "back-row", "back row")],
        },
        "original": {
            "tune": ["I prefer {a_old} when I fly.", "Book me {a_old}, please."],
            "heldout": ["{A_old} is what I always pick on planes.", "I always ask for {a_old} on flights."],
        },
        "update": {
            "tune": ["I prefer {a_new} now.", "Actually, book {a_new} for me from now on.",
                     "I switched from {old}s to {new}s.", "Not {a_old} anymore - {a_new}, please."],
            "heldout": ["These days I want {a_new}.", "I've gone off {old}s; {a_new} is better for me now.",
                        "{A_new} suits me better now than {a_old}.", "From now on, please choose {a_new}."],
        },
        "question": {
            "tune": ["Which seat does the user prefer on flights?", "What seat should be booked for the user?"],
            "heldout": ["What is the user's seat preference?", "Where does the user like to sit on a plane?"],
        },
        "distractor": {
            "tune": [("hypothetical", "If the flight were longer I'd consider {a_other}."),
                     ("other_person", "My husband always takes {a_other}."),
                     ("question", "Is {a_other} worth paying extra for?"),
                     ("plan", "I might try {a_other} on the next long-haul flight.")],
            "heldout": [("hypothetical", "If I were travelling with a baby I'd want {a_other}."),
                        ("other_person", "My travel buddy insists on {a_other}."),
                        ("question", "Do {other}s have more legroom?"),
                        ("plan", "Maybe I'll book {a_other} for the trip home, just to see.")],
        },
    },
    "notification_channel": {
        "values": {
            "tune": [("email", "e-mail"), ("Slack",), ("Microsoft Teams", "teams"), ("Discord",)],
            "heldout": [("SMS", "text message"), ("WhatsApp",), ("Telegram",), ("Signal",)],
        },
        "original": {
            "tune": ["Notify me by {old}.", "I prefer {old} for notifications."],
            "heldout": ["Send my alerts via {old}.", "Reach me through {old} when something needs my attention."],
        },
        "update": {
            "tune": ["Switch my notifications to {new}.", "Use {new} for alerts now, not {old}.",
                     "I'd like reminders by {new} these days.", "Actually, notifications should go to {new} now."],
            "heldout": ["From now on, notify me via {new}.", "{Old} isn't working for me; send alerts through {new} instead.",
                        "I changed my notification channel to {new}.", "Please reach me on {new} rather than {old}."],
        },
        "question": {
            "tune": ["How does the user want to be notified?", "Which channel should reminders go to?"],
            "heldout": ["Where should alerts for the user be sent?", "What is the user's preferred notification channel?"],
        },
        "distractor": {
            "tune": [("hypothetical", "If I were travelling I'd want alerts on {other}."),
                     ("other_person", "My team talks mostly on {other}."),
                     ("question", "Can you send notifications through {other}?"),
                     ("plan", "We might set up {other} at work soon.")],
            "heldout": [("hypothetical", "If my laptop died, {other} would be the easiest way to reach me."),
                        ("other_person", "My parents only use {other}."),
                        ("question", "Is {other} secure enough for work messages?"),
                        ("plan", "I'm planning to try {other} for family chats.")],
        },
    },
    "phone_platform": {
        "values": {
            "tune": [("iPhone", "ios"), ("Google Pixel", "pixel"), ("Fairphone",)],
            "heldout": [("Samsung Galaxy", "samsung", "galaxy"), ("OnePlus",), ("Xiaomi",)],
        },
        "original": {
            "tune": ["I use {a_old}.", "My phone is {a_old}."],
            "heldout": ["I carry {a_old}.", "I've had {a_old} for a while."],
        },
        "update": {
            "tune": ["I replaced my {old} with {a_new}.", "My phone is {a_new} now.",
                     "I got {a_new}, so no more {old} for me.", "Actually, I'm on {a_new} these days."],
            "heldout": ["I switched from {a_old} to {a_new}.", "New phone: {a_new}.",
                        "These days I'm using {a_new}.", "I traded in my {old} for {a_new}."],
        },
        "question": {
            "tune": ["What phone does the user have?", "Which smartphone does the user use?"],
            "heldout": ["Which smartphone should app instructions target for the user?", "What kind of phone does the user carry?"],
        },
        "distractor": {
            "tune": [("hypothetical", "If money were no object I'd get {a_other}."),
                     ("other_person", "My mom just bought {a_other}."),
                     ("question", "Does {a_other} have a good camera?"),
                     ("plan", "I might get {a_other} when my contract ends.")],
            "heldout": [("hypothetical", "If I dropped my phone again I'd probably replace it with {a_other}."),
                        ("other_person", "My wife swears by her {other}."),
                        ("question", "How long do {other} batteries last?"),
                        ("plan", "I'm tempted to try {a_other} next year.")],
        },
    },
    "commute_mode": {
        "values": {
            "tune": [("by bike", "bike", "bicycle", "cycling"), ("by train", "train"), ("by car", "car", "driving")],
            "heldout": [("on foot", "walk", "walking"), ("by bus", "bus"), ("by scooter", "scooter")],
        },
        "original": {
            "tune": ["I commute {old}.", "I get to the office {old}."],
            "heldout": ["I go to work {old} every day.", "My commute is {old}."],
        },
        "update": {
            "tune": ["I commute {new} now.", "These days I go to work {new}.",
                     "I stopped going {old}; I travel {new} now.", "Correction: I get to work {new}, not {old}."],
            "heldout": ["Since the move I get to work {new}.", "I swapped going {old} for going {new}.",
                        "My commute is {new} these days.", "No more going {old} - it's {new} for me now."],
        },
        "question": {
            "tune": ["How does the user get to work?", "What is the user's usual commute?"],
            "heldout": ["How does the user travel to the office?", "What does the user's daily commute look like?"],
        },
        "distractor": {
            "tune": [("hypothetical", "If it weren't so far I'd go {other}."),
                     ("other_person", "My neighbour commutes {other}."),
                     ("question", "Is it faster to go {other}?"),
                     ("plan", "I might try going {other} once the weather improves.")],
            "heldout": [("hypothetical", "If the office moved closer I could go {other}."),
                        ("other_person", "My sister gets to school {other}."),
                        ("question", "How long would it take me to get to work {other}?"),
                        ("plan", "Next month I may test going {other} for a week.")],
        },
    },
    "pronouns": {
        "values": {
            "tune": [("she/her",), ("they/them",), ("xe/xem",)],
            "heldout": [("he/him",), ("she/they",), ("ze/zir",)],
        },
        "original": {
            "tune": ["My pronouns are {old}.", "I use {old} pronouns."],
            "heldout": ["Please refer to me with {old}.", "{Old} are my pronouns."],
        },
        "update": {
            "tune": ["I go by {new} now.", "My pronouns changed to {new}.",
                     "Please use {new} for me rather than {old}.", "Actually, it's {new} for me these days."],
            "heldout": ["These days I use {new} pronouns.", "Update: my pronouns are {new}.",
                        "Not {old} anymore; {new}, please.", "I've started using {new}."],
        },
        "question": {
            "tune": ["Which pronouns does the user use?", "What are the user's pronouns?"],
            "heldout": ["How should the assistant refer to the user?", "Which pronouns should be used for the user?"],
        },
        "distractor": {
            "tune": [("hypothetical", "If I were writing a character, I'd give them {other} pronouns."),
                     ("other_person", "My best friend uses {other}."),
                     ("question", "How do I introduce someone who uses {other}?"),
                     ("plan", "I might write a short guide about {other} pronouns for my team.")],
            "heldout": [("hypothetical", "In a role-playing game I'd use {other} for my character."),
                        ("other_person", "My partner uses {other}."),
                        ("question", "Is it okay to ask a colleague whether they use {other}?"),
                        ("plan", "Our club may add {other} to the example name badges.")],
        },
    },
    "coffee_order": {
        "values": {
            "tune": [("flat white",), ("cortado",), ("cold brew",)],
            "heldout": [("oat latte",), ("americano",), ("macchiato",)],
        },
        "original": {
            "tune": ["I usually order {a_old}.", "My coffee order is {a_old}."],
            "heldout": ["{A_old} is my standard coffee.", "I always get {a_old} in the morning."],
        },
        "update": {
            "tune": ["I switched from {old} to {new}.", "My go-to is {a_new} now.",
                     "Actually, I order {a_new} these days.", "Not {a_old} anymore - {a_new} for me."],
            "heldout": ["These days I get {a_new} instead.", "I've moved on from {old}s to {new}s.",
                        "My usual coffee is {a_new} now.", "Please order me {a_new} from now on."],
        },
        "question": {
            "tune": ["What is the user's usual coffee order?", "What coffee should be ordered for the user?"],
            "heldout": ["Which coffee does the user usually drink?", "What does the user order at a café?"],
        },
        "distractor": {
            "tune": [("hypothetical", "If I weren't cutting back I'd get {a_other}."),
                     ("other_person", "My coworker always orders {a_other}."),
                     ("question", "How is {a_other} different from a latte?"),
                     ("plan", "I might try {a_other} tomorrow.")],
            "heldout": [("hypothetical", "If the café were less busy I'd try {a_other}."),
                        ("other_person", "My boss drinks {a_other} every afternoon."),
                        ("question", "How much caffeine is in {a_other}?"),
                        ("plan", "Maybe I'll order {a_other} at the airport.")],
        },
    },
    "favourite_language": {
        "values": {
            "tune": [("Rust",), ("Kotlin",), ("Elixir",), ("Haskell",)],
            "heldout": [("OCaml",), ("Scala",), ("Clojure",), ("Zig",)],
        },
        "original": {
            "tune": ["My favourite programming language is {old}.", "{Old} is the language I enjoy most."],
            "heldout": ["I love programming in {old} more than anything else.", "My favourite language to code in is {old}."],
        },
        "update": {
            "tune": ["{New} has replaced {old} as my favourite language.", "These days my favourite language is {new}.",
                     "Actually, I enjoy {new} most now.", "I've fallen for {new}; it's my favourite now."],
            "heldout": ["My favourite programming language is {new} now, not {old}.",
                        "Correction: {new} is my favourite language these days.",
                        "I like {new} best now.", "I've gone off {old}; {new} is my favourite."],
        },
        "question": {
            "tune": ["What is the user's favourite programming language?", "Which language does the user enjoy most?"],
            "heldout": ["Which programming language does the user like best?", "What language would the user pick for a side project?"],
        },
        "distractor": {
            "tune": [("hypothetical", "If I had more free time I'd learn {other}."),
                     ("other_person", "My mentor writes everything in {other}."),
                     ("question", "Is {other} hard to learn?"),
                     ("plan", "I'm thinking about learning {other}.")],
            "heldout": [("hypothetical", "If I were starting over I might pick up {other}."),
                        ("other_person", "My whole team at work uses {other}."),
                        ("question", "What is {other} mostly used for?"),
                        ("plan", "I may take a course on {other} next spring.")],
        },
    },
}

# -- attributes that hold many values: a second value is an addition, not a correction ----

ADDITIVE_FAMILIES: dict[str, dict] = {
    "pets": {
        "values": {"tune": [("cat",), ("parrot",), ("rabbit",)], "heldout": [("dog",), ("tortoise",), ("ferret",)]},
        "original": {"tune": ["I have {a_old}.", "We've got {a_old} at home."],
                     "heldout": ["I own {a_old}.", "There's {a_old} living with me."]},
        "addition": {"tune": ["I also have {a_other}.", "We just adopted {a_other} too."],
                     "heldout": ["I got {a_other} as well last month.", "Oh, and there's {a_other} in the house now too."]},
        "question": {"tune": ["What pets does the user have?"], "heldout": ["Which animals live with the user?"]},
    },
    "allergies": {
        "values": {"tune": [("peanuts", "peanut"), ("shellfish",), ("penicillin",)],
                   "heldout": [("pollen",), ("latex",), ("sesame",)]},
        "original": {"tune": ["I'm allergic to {old}.", "I have an allergy to {old}."],
                     "heldout": ["{Old} gives me a bad allergic reaction.", "I react badly to {old}; it's an allergy."]},
        "addition": {"tune": ["I'm also allergic to {other}.", "Turns out I'm allergic to {other} as well."],
                     "heldout": ["My doctor found I react to {other} too.", "Add {other} to my allergies, please."]},
        "question": {"tune": ["What is the user allergic to?"], "heldout": ["Which allergies does the user have?"]},
    },
    "languages_spoken": {
        "values": {"tune": [("Spanish",), ("Portuguese",), ("Polish",)], "heldout": [("German",), ("Japanese",), ("Romanian",)]},
        "original": {"tune": ["I speak {old}.", "I'm fluent in {old}."],
                     "heldout": ["{Old} is one of the languages I speak.", "I grew up speaking {old}."]},
        "addition": {"tune": ["I also speak some {other}.", "I've picked up {other} too."],
                     "heldout": ["I can get by in {other} as well.", "I'm conversational in {other} now, too."]},
        "question": {"tune": ["Which languages does the user speak?"], "heldout": ["What languages can the user communicate in?"]},
    },
    "hobbies": {
        "values": {"tune": [("bouldering",), ("pottery",), ("birdwatching",)], "heldout": [("chess",), ("sailing",), ("knitting",)]},
        "original": {"tune": ["I enjoy {old}.", "My weekends are for {old}."],
                     "heldout": ["I spend my free time on {old}.", "I'm really into {old}."]},
        "addition": {"tune": ["I've also taken up {other}.", "Another hobby of mine is {other}."],
                     "heldout": ["Lately I've started {other} as well.", "I do {other} too, when I can."]},
        "question": {"tune": ["What are the user's hobbies?"], "heldout": ["What does the user do in their free time?"]},
    },
    "foods_liked": {
        "values": {"tune": [("ramen",), ("falafel",), ("dumplings", "dumpling")], "heldout": [("tacos", "taco"), ("paella",), ("pierogi",)]},
        "original": {"tune": ["I love {old}.", "I could eat {old} every day."],
                     "heldout": ["I'm a big fan of {old}.", "I really enjoy {old}."]},
        "addition": {"tune": ["I like {other} too.", "I'm also crazy about {other}."],
                     "heldout": ["I also enjoy {other} a lot.", "Add {other} to the foods I like."]},
        "question": {"tune": ["What foods does the user like?"], "heldout": ["Which dishes does the user enjoy?"]},
    },
}

# -- cessations: the user stops something; nothing replaces it -----------------------------

CESSATION_FAMILIES: dict[str, dict] = {
    "tool_use": {
        "values": {"tune": [("Vim",), ("Photoshop",), ("Trello",)], "heldout": [("Emacs",), ("Notion",), ("Jira",)]},
        "original": {"tune": ["I use {old}.", "I do most of my work in {old}."],
                     "heldout": ["{Old} is part of my daily workflow.", "I rely on {old} a lot."]},
        "cessation": {"tune": ["I no longer use {old}.", "I stopped using {old}."],
                      "heldout": ["I've given up on {old} entirely.", "I'm done with {old} - I don't touch it anymore."]},
        "question": {"tune": ["Which tools does the user use?"], "heldout": ["What software is part of the user's workflow?"]},
    },
    "daily_drink": {
        "values": {"tune": [("coffee",), ("energy drinks", "energy drink"), ("green tea",)],
                   "heldout": [("soda",), ("black tea",), ("kombucha",)]},
        "original": {"tune": ["I drink {old} every morning.", "I have {old} every day."],
                     "heldout": ["I can't start the day without {old}.", "{Old} is part of my morning routine."]},
        "cessation": {"tune": ["I stopped drinking {old}.", "I don't drink {old} anymore."],
                      "heldout": ["I quit {old} last month.", "I've cut out {old} completely."]},
        "question": {"tune": ["What does the user drink in the morning?"], "heldout": ["Which drinks does the user have regularly?"]},
    },
    "sport": {
        "values": {"tune": [("tennis",), ("squash",), ("volleyball",)], "heldout": [("badminton",), ("rugby",), ("water polo",)]},
        "original": {"tune": ["I play {old} on Sundays.", "I play {old} with friends every week."],
                     "heldout": ["{Old} is my weekly sport.", "I'm on a {old} team."]},
        "cessation": {"tune": ["I quit {old}.", "I don't play {old} anymore."],
                      "heldout": ["I gave up {old} after my knee injury.",
                                  "I haven't played {old} since the spring, and I'm not going back."]},
        "question": {"tune": ["Which sports does the user play?"], "heldout": ["What does the user do for exercise?"]},
    },
    "diet_restriction": {
        "values": {"tune": [("vegetarian",), ("vegan",), ("dairy-free",)],
                   "heldout": [("pescatarian",), ("gluten-free",), ("keto", "ketogenic")]},
        "original": {"tune": ["I'm {old}.", "I've been {old} for years."],
                     "heldout": ["I keep a strict {old} diet.", "My meals are all {old}."]},
        "cessation": {"tune": ["I'm not {old} anymore.", "I stopped being {old}."],
                      "heldout": ["I gave up being {old} last year.", "I no longer keep to a {old} diet."]},
        "question": {"tune": ["Does the user have dietary restrictions?"],
                     "heldout": ["Is there anything special about the user's diet?"]},
    },
    "membership": {
        "values": {"tune": [("gym membership",), ("Netflix subscription", "netflix"), ("newspaper subscription", "newspaper")],
                   "heldout": [("Spotify subscription", "spotify"), ("yoga-studio pass", "yoga studio"),
                               ("car-share membership", "car-share", "car share")]},
        "original": {"tune": ["I have {a_old}.", "I pay for {a_old}."],
                     "heldout": ["I've got {a_old}.", "I make good use of my {old}."]},
        "cessation": {"tune": ["I gave up my {old}.", "I cancelled my {old}."],
                      "heldout": ["I let my {old} lapse and won't renew it.", "I don't have {a_old} anymore."]},
        "question": {"tune": ["What memberships does the user pay for?"], "heldout": ["Which subscriptions does the user have?"]},
    },
    "vehicle": {
        "values": {"tune": [("Volvo",), ("motorbike", "motorcycle"), ("cargo bike",)],
                   "heldout": [("camper van", "campervan"), ("Vespa",), ("Tesla",)]},
        "original": {"tune": ["I own {a_old}.", "I have {a_old}."],
                     "heldout": ["{A_old} sits in my garage.", "I'm the owner of {a_old}."]},
        "cessation": {"tune": ["I sold my {old}.", "I no longer own {a_old}."],
                      "heldout": ["The {old} is gone - I got rid of it.", "I don't have the {old} any more."]},
        "question": {"tune": ["What vehicle does the user own?"], "heldout": ["Does the user have a vehicle?"]},
    },
}


def _strings(key: str, rows: list) -> set[str]:
    """A table's value aliases (lowercased) or template strings."""
    if key == "values":
        return {alias.lower() for value in rows for alias in value}
    return {row[1] if isinstance(row, tuple) else row for row in rows}


def _merge_split(families: dict[str, dict], tables: dict[str, dict], split: str) -> None:
    """Add ``split``'s tables to each family, which must share no template or value alias with
    the halves already there (a reused sentence or value would not be unseen)."""
    if set(tables) != set(families):
        raise AssertionError(f"{split} must cover exactly the families {sorted(families)}, not {sorted(tables)}")
    for family, table in families.items():
        if set(tables[family]) != set(table):
            raise AssertionError(f"{split}/{family} must have the tables {sorted(table)}")
        for key, rows in tables[family].items():
            repeated = _strings(key, rows) & set().union(*(_strings(key, half) for half in table[key].values()))
            if repeated:
                raise AssertionError(f"{split}/{family}/{key} repeats {sorted(repeated)}")
            table[key][split] = rows


_merge_split(UPDATE_FAMILIES, updates_corpus_heldout2.UPDATE_FAMILIES, "heldout2")
_merge_split(ADDITIVE_FAMILIES, updates_corpus_heldout2.ADDITIVE_FAMILIES, "heldout2")
_merge_split(CESSATION_FAMILIES, updates_corpus_heldout2.CESSATION_FAMILIES, "heldout2")

# Sizes per family and half.
UPDATES_PER_FAMILY = 10
DISTRACTORS_PER_TEMPLATE = 2
ADDITIONS_PER_FAMILY = 8
UNRELATED_PER_SPLIT = 30
CESSATIONS_PER_FAMILY = 6


# -- helpers ---------------------------------------------------------------------------------

def terms(value: tuple[str, ...]) -> list[str]:
    """A value's lowercase aliases, surface text first."""
    return list(dict.fromkeys(alias.lower() for alias in value))


def mentions(text: str, aliases) -> bool:
    """Whether ``text`` names any alias as whole words (lowercased; a plural s/es allowed)."""
    text = text.lower()
    return any(re.search(rf"(?<![a-z0-9]){re.escape(alias)}(?:s|es)?(?![a-z0-9])", text) for alias in aliases)


def _article(text: str) -> str:
    lower = text.lower()
    vowel = lower[:1] in "aeiou" and not lower.startswith(("one", "uni", "use", "eu"))
    return "an" if vowel else "a"


def _fill(template: str, **values: tuple[str, ...]) -> str:
    forms = {}
    for name, value in values.items():
        text = value[0]
        with_article = f"{_article(text)} {text}"
        forms[name] = text
        forms[name.capitalize()] = text[:1].upper() + text[1:]
        forms[f"a_{name}"] = with_article
        forms[f"A_{name}"] = with_article[:1].upper() + with_article[1:]
    return template.format_map(forms)


def _balanced(rng: random.Random, combos: list[tuple], n: int, key) -> list[tuple]:
    """``n`` distinct combos in random order, spreading them evenly over ``key``."""
    rng.shuffle(combos)
    quota = math.ceil(n / len({key(c) for c in combos}))
    used: Counter = Counter()
    chosen = []
    for combo in combos:
        if used[key(combo)] < quota:
            used[key(combo)] += 1
            chosen.append(combo)
            if len(chosen) == n:
                break
    return chosen


def _pairs(values: list[tuple]) -> list[tuple]:
    return [(a, b) for a in values for b in values if a != b]


# -- the generator -----------------------------------------------------------------------------

def _updates(rng: random.Random, split: str) -> list[dict]:
    out = []
    for family, table in UPDATE_FAMILIES.items():
        combos = [(original, update, old, new)
                  for original in table["original"][split] for update in table["update"][split]
                  for old, new in _pairs(table["values"][split])]
        for k, (original, update, old, new) in enumerate(_balanced(rng, combos, UPDATES_PER_FAMILY, key=lambda c: c[1])):
            out.append({
                "id": f"update-{family}-{split}-{k:02d}", "split": split, "type": "update", "family": family,
                "original": _fill(original, old=old), "second": _fill(update, old=old, new=new),
                "question": rng.choice(table["question"][split]),
                "current_terms": terms(new), "stale_terms": terms(old),
            })
    return out


def _distractor(family: str, split: str, kind: str, k: int, original: str, second: str,
                question: str, protected: tuple) -> dict:
    return {
        "id": f"distractor-{kind}-{family}-{split}-{k:02d}", "split": split, "type": "distractor",
        "family": family, "kind": kind, "original": original, "second": second, "question": question,
        "protected_terms": terms(protected), "expected_terms": terms(protected),
    }


def _distractors(rng: random.Random, split: str) -> list[dict]:
    out = []
    # The same attribute, said of something that is not the user's own current value.
    for family, table in UPDATE_FAMILIES.items():
        for kind, template in table["distractor"][split]:
            combos = [(original, old, other) for original in table["original"][split]
                      for old, other in _pairs(table["values"][split])]
            for k, (original, old, other) in enumerate(_balanced(rng, combos, DISTRACTORS_PER_TEMPLATE, key=lambda c: c[0])):
                out.append(_distractor(family, split, kind, k, _fill(original, old=old), _fill(template, other=other),
                                       rng.choice(table["question"][split]), old))
    # One more value of an attribute that holds many.
    for family, table in ADDITIVE_FAMILIES.items():
        combos = [(original, addition, old, other) for original in table["original"][split]
                  for addition in table["addition"][split] for old, other in _pairs(table["values"][split])]
        for k, (original, addition, old, other) in enumerate(_balanced(rng, combos, ADDITIONS_PER_FAMILY, key=lambda c: c[1])):
            out.append(_distractor(family, split, "addition", k, _fill(original, old=old),
                                   _fill(addition, other=other), rng.choice(table["question"][split]), old))
    # A statement about a different attribute altogether.
    families = sorted(UPDATE_FAMILIES)
    seen = set()
    k = 0
    while k < UNRELATED_PER_SPLIT:
        first, second = rng.sample(families, 2)
        a, b = UPDATE_FAMILIES[first], UPDATE_FAMILIES[second]
        old, value = rng.choice(a["values"][split]), rng.choice(b["values"][split])
        original = _fill(rng.choice(a["original"][split]), old=old)
        later = _fill(rng.choice(b["original"][split]), old=value)
        if (original, later) in seen:
            continue
        seen.add((original, later))
        out.append(_distractor(first, split, "unrelated", k, original, later, rng.choice(a["question"][split]), old))
        k += 1
    return out


def _cessations(rng: random.Random, split: str) -> list[dict]:
    out = []
    for family, table in CESSATION_FAMILIES.items():
        combos = [(original, cessation, old) for original in table["original"][split]
                  for cessation in table["cessation"][split] for old in table["values"][split]]
        for k, (original, cessation, old) in enumerate(_balanced(rng, combos, CESSATIONS_PER_FAMILY, key=lambda c: c[1])):
            out.append({
                "id": f"cessation-{family}-{split}-{k:02d}", "split": split, "type": "cessation", "family": family,
                "original": _fill(original, old=old), "second": _fill(cessation, old=old),
                "question": rng.choice(table["question"][split]), "ceased_terms": terms(old),
            })
    return out


def check(scenario: dict) -> None:
    """Each statement names what it should and nothing it should not."""
    s = scenario
    if s["type"] == "update":
        ok = (mentions(s["original"], s["stale_terms"]) and not mentions(s["original"], s["current_terms"])
              and mentions(s["second"], s["current_terms"]))
    elif s["type"] == "distractor":
        ok = mentions(s["original"], s["protected_terms"]) and not mentions(s["second"], s["protected_terms"])
    else:
        ok = mentions(s["original"], s["ceased_terms"]) and mentions(s["second"], s["ceased_terms"])
    if not ok:
        raise AssertionError(f"scenario {s['id']} does not name its values as it should: {s}")


def corpus(seed: int = 0) -> list[dict]:
    """Every scenario: updates, then distractors, then cessations; within a type the families
    are interleaved (so a ``limit`` of the first N still covers many), ``tune`` and ``heldout``
    together first, then ``heldout2`` from its own random stream (so that adding it changed
    neither which scenarios the first two halves hold nor their order)."""
    rng = random.Random(seed)
    rng_heldout2 = random.Random(f"{seed}-heldout2")
    scenarios = []
    for make in (_updates, _distractors, _cessations):
        of_type = [s for split in ("tune", "heldout") for s in make(rng, split)]
        rng.shuffle(of_type)
        later = make(rng_heldout2, "heldout2")
        rng_heldout2.shuffle(later)
        scenarios.extend(of_type + later)
    for scenario in scenarios:
        check(scenario)
    return scenarios


def summary(scenarios: list[dict]) -> dict:
    """Counts per type, per split and type, per family, and per kind of distractor."""
    by_split: dict = {split: dict(Counter(s["type"] for s in scenarios if s["split"] == split)) for split in SPLITS}
    by_family: dict = {}
    for s in scenarios:
        by_family.setdefault(s["type"], {}).setdefault(s["family"], Counter())[s["split"]] += 1
    return {
        "total": len(scenarios),
        "by_type": dict(Counter(s["type"] for s in scenarios)),
        "by_split": by_split,
        "families": {t: len(fams) for t, fams in by_family.items()},
        "by_family": {t: {f: dict(c) for f, c in sorted(fams.items())} for t, fams in by_family.items()},
        "distractor_kinds": dict(Counter(s["kind"] for s in scenarios if s["type"] == "distractor")),
    }
