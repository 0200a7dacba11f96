-- 016_attributes: the attributes a statement can set, and the typed entities they add to
-- the gazetteer. Idempotent, like 015: the tables are made to hold exactly these rows.
--
-- An attribute holds ONE value at a time (a new value supersedes the old one, whatever
-- verb says it: "I switched to light mode", "light mode is better for me now") or MANY
-- (a new pet joins the others). For a many-valued attribute the slot is the attribute and
-- the object ("allergies:peanut"), so two pets never compete. A statement whose attribute
-- is not listed here gets a slot of its own, from its verb and object ("prefers:aisle_seats"):
-- there is no catch-all slot shared by unrelated statements.
-- template: how an extracted memory states the value; {value} is replaced.

with seed (attribute, cardinality, kind, template, description) as (values
    ('display_theme', 'one', 'preference', 'User''s display theme is {value}', 'dark mode, light mode, ...'),
    ('time_zone', 'one', 'fact', 'User''s time zone is {value}', 'CET, Pacific time, UTC+2, Europe/Berlin'),
    ('home_city', 'one', 'fact', 'User lives in {value}', 'where the user lives now'),
    ('employer', 'one', 'fact', 'User works at {value}', 'the organisation the user works for'),
    ('job_title', 'one', 'fact', 'User works as {value}', 'the user''s job or role'),
    ('name', 'one', 'fact', 'User''s name is {value}', 'what to call the user'),
    ('pronouns', 'one', 'fact', 'User''s pronouns are {value}', 'she/her, they/them, ...'),
    ('diet', 'one', 'fact', 'User''s diet is {value}', 'vegetarian, vegan, pescatarian, ...'),
    ('code_editor', 'one', 'preference', 'User''s code editor is {value}', 'Vim, VS Code, Emacs, ...'),
    ('operating_system', 'one', 'fact', 'User''s computer runs {value}', 'Linux, macOS, Windows, ...'),
    ('phone', 'one', 'fact', 'User''s phone is {value}', 'iPhone, Android, Pixel, ...'),
    ('units', 'one', 'preference', 'User prefers {value}', 'metric or imperial units'),
    ('response_style', 'one', 'preference', 'User prefers {value} from the assistant', 'concise answers, detailed explanations, ...'),
    ('seat', 'one', 'preference', 'User prefers {value}', 'window seat, aisle seat, ...'),
    ('notification_channel', 'one', 'preference', 'User wants notifications by {value}', 'email, SMS, Slack, ...'),
    ('commute', 'one', 'fact', 'User commutes {value}', 'by bike, by train, on foot, ...'),
    ('coffee_order', 'one', 'preference', 'User''s usual coffee order is {value}', 'flat white, cortado, ...'),
    ('favorite', 'one', 'preference', 'User''s favourite {what} is {value}', 'one favourite per kind of thing (favorite:language)'),
    ('relationship_status', 'one', 'fact', 'User is {value}', 'single, married, engaged, ...'),
    ('allergies', 'many', 'fact', 'User is allergic to {value}', 'each allergen is a slot of its own'),
    ('pets', 'many', 'fact', 'User has a pet {value}', 'each animal is a slot of its own'),
    ('languages', 'many', 'fact', 'User speaks {value}', 'each spoken language is a slot of its own'),
    ('likes', 'many', 'preference', 'User {value}', 'likes or dislikes, per thing (likes:coffee)'),
    ('conditions', 'many', 'fact', 'User has {value}', 'health conditions'),
    ('relations', 'many', 'fact', 'User''s {what} is {value}', 'people in the user''s life, per role (relations:sister)')
), upserted as (
    insert into _pymem.attributes (attribute, cardinality, kind, template, description)
    select attribute, cardinality, kind, template, description from seed
    on conflict (attribute) do update set cardinality = excluded.cardinality, kind = excluded.kind,
                                          template = excluded.template, description = excluded.description
    returning attribute
)
delete from _pymem.attributes a where not exists (select from seed s where s.attribute = a.attribute);
