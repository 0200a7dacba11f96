-- 055_statements: reading statements in plain language, in one place for every writer.
--
-- pymem.analyze_statement(text) says what one sentence asserts: about whom (the user, or
-- "my sister"), which attribute and value (from typed entities first, then from the verb),
-- whether it is a cessation ("I no longer use Vim"), a question, a hypothetical or a plan,
-- and whether it carries an update cue ("now", "actually", "switched", "instead", ...).
-- _pymem.write_memory() (060) runs it on every memory written without an explicit slot, so
-- remember() from SQL or Python, the HTTP API, the worker's extraction and a model's
-- extraction all get the same slot for the same sentence. _pymem.extract() is the offline
-- extractor itself: the user's sentences that assert something durable, as candidates.
--
-- Why rules and not a model: this runs inside the database, offline, in about a millisecond a
-- sentence, and the same sentence always gets the same answer. The rules are general (an
-- attribute comes from the type of the value: any "<x> mode" is a display theme, any
-- gazetteer editor is the code editor, whatever the verb), and what they do not recognise
-- gets a slot of its own, so a miss never overwrites an unrelated memory. Tuned on the tuning
-- half of `pymem bench updates`; the held-out half was written before.

-- The runs of one to five words of a text, lowercased, with what separates them as written
-- ("i'm", "no longer", "co-worker"): five slots per word, in order, null past the end, so the
-- first five are the runs the text starts with (of its first 100,000 characters; a statement
-- is at most 600). A list of keywords is then one array test, `runs && array['no longer',
-- 'anymore']`, with the answer of `lower(t) ~ '\m(?:no longer|anymore)\M'` and no regular
-- expression. Why: PostgreSQL keeps 32 compiled expressions per connection; reading a sentence
-- used far more, so every one was compiled again for every sentence (0.1-0.2 ms each, nine
-- tenths of what reading a turn cost). The expressions left are tried only where a word they
-- need is there.
create or replace function _pymem.word_runs(p_text text) returns text[]
    language sql immutable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$
    select coalesce(array_agg(r.run order by w.i, r.n), '{}')
    from (select m.i,
                 m.w[1] as w1,
                 m.w[1] || m.w[2] || lead(m.w[1], 1) over o as w2,
                 m.w[1] || m.w[2] || lead(m.w[1] || m.w[2], 1) over o || lead(m.w[1], 2) over o as w3,
                 m.w[1] || m.w[2] || lead(m.w[1] || m.w[2], 1) over o || lead(m.w[1] || m.w[2], 2) over o
                     || lead(m.w[1], 3) over o as w4,
                 m.w[1] || m.w[2] || lead(m.w[1] || m.w[2], 1) over o || lead(m.w[1] || m.w[2], 2) over o
                     || lead(m.w[1] || m.w[2], 3) over o || lead(m.w[1], 4) over o as w5
          from regexp_matches(lower(left(coalesce(p_text, ''), 100000)), '([[:alnum:]_]+)([^[:alnum:]_]*)', 'g')
               with ordinality m(w, i)
          window o as (order by m.i)) w
    cross join lateral (values (1, w.w1), (2, w.w2), (3, w.w3), (4, w.w4), (5, w.w5)) r(n, run)
$$;

-- Leading words that say nothing about the statement ("Actually, ...", "Oh and ..."). The
-- ones that announce a correction count as an update cue.
create or replace function _pymem.strip_discourse(p_text text, out statement text, out cue boolean)
    language plpgsql immutable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$
declare
    v_marker text;
begin
    statement := btrim(regexp_replace(coalesce(p_text, ''), '\s+', ' ', 'g'));
    cue := false;
    loop
        -- Markers that lead in ("actually", "by the way"), and interjections only when
        -- punctuation follows ("No, ..." but not "No more X", "No longer X").
        v_marker := regexp_substr(statement,
            '^(?:(?:actually|correction|update|quick update|small update|in fact|no wait|sorry|to be clear|i meant|'
            'also|btw|by the way|fyi|just so you know|heads up|and|but|anyway|oh and|so yeah)\M[\s,:;.!-]*|'
            '(?:wait|oh|ok|okay|so|well|hey|hi|hello|right|yes|yeah|no|nope|hmm|um|alright)[,:;.!-]+\s*)', 1, 1, 'i');
        exit when v_marker is null or v_marker = '';
        -- (A bare "No, ..." answers a question more often than it corrects: "No, I've never
        -- been in that park" replaced an unrelated memory in the LoCoMo audit.)
        if lower(v_marker) ~ '^(?:actually|correction|update|quick update|small update|in fact|no wait|wait|sorry|'
                               'to be clear|i meant)' then
            cue := true;
        end if;
        statement := btrim(substr(statement, length(v_marker) + 1));
    end loop;
end
$$;

-- A value as a memory should state it: no article in front, no "now", "please", "these
-- days", "from now on" behind, no closing punctuation.
create or replace function _pymem.clean_value(p_value text) returns text
    language plpgsql immutable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$
declare
    v_value text := btrim(coalesce(p_value, ''), ' "''`.,;:!?()-');
    v_before text;
begin
    while v_value <> '' loop
        v_before := v_value;
        v_value := regexp_replace(v_value, '^(?:a|an|the|my|our|some|any|just|only|really|mostly|mainly|usually|'
                                           'always|now|currently|still|also|definitely)\s+', '', 'i');
        v_value := regexp_replace(v_value, '\s+(?:now|these days|nowadays|from now on|for now|any ?more|instead|'
                                           'please|for me|lately|again|too|as well|then|thanks|by trade|'
                                           'last (?:week|month|year)|this (?:week|month|year)|recently|today|'
                                           'at the moment|for good|full[- ]time|every day|for years)$', '', 'i');
        v_value := btrim(v_value, ' "''`.,;:!?()-');
        exit when v_value = v_before;
    end loop;
    return nullif(left(v_value, 200), '');
end
$$;

create or replace function _pymem.slug(p_text text) returns text
    language sql immutable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$ select left(btrim(regexp_replace(lower(coalesce(p_text, '')), '[^a-z0-9]+', '_', 'g'), '_'), 60) $$;

-- A first-person clause in the third person, for a memory's content: "I'm on Pacific time
-- now" -> "User is on Pacific time now", "I no longer use Vim" -> "User no longer uses Vim".
-- Only the pronouns and the verb right after I (past an adverb or two) change.
create or replace function _pymem.third_person(p_text text) returns text
    language plpgsql immutable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$
declare
    v text := btrim(coalesce(p_text, ''), ' .!');
    c_adverbs constant text := '((?:\s+(?:no longer|also|still|usually|always|mostly|mainly|now|just|really|often|'
                               'sometimes|never|only|currently|normally|even|actually))*)';
begin
    -- (each only where the words it needs are there: most sentences need few of these)
    if strpos(v, 'I') > 0 then
        if strpos(v, 'I''m') > 0 or strpos(v, 'I am') > 0 then
            v := regexp_replace(v, '\m(?:I''m|I am)\M', 'User is', 'g');
        end if;
        if strpos(v, 'I''ve') > 0 or strpos(v, 'I have') > 0 then
            v := regexp_replace(v, '\m(?:I''ve|I have)\M(?=\s+(?:been|got|gotten|had|moved|switched|changed|become|started|'
                                   'taken|picked|fallen|gone|used|never|always|also|just|stopped|quit|given))', 'User has', 'g');
            -- any other "I've" is the auxiliary too ("I've dropped the rule" was "User've dropped")
            v := regexp_replace(v, '\mI''ve\M', 'User has', 'g');
        end if;
        if strpos(v, 'I''d') > 0 then
            v := regexp_replace(v, '\mI''d\M', 'User would', 'g');
        end if;
        if strpos(v, 'I''ll') > 0 then
            v := regexp_replace(v, '\mI''ll\M', 'User will', 'g');
        end if;
        if strpos(v, 'I don''t') > 0 or strpos(v, 'I do not') > 0 then
            v := regexp_replace(v, '\mI (?:don''t|do not)\M', 'User does not', 'g');
        end if;
        if strpos(v, 'have') > 0 then
            v := regexp_replace(v, '\mI' || c_adverbs || '\s+(have)\M', 'User\1 has', 'g');
        end if;
        if strpos(v, 'do') > 0 or strpos(v, 'go') > 0 then
            v := regexp_replace(v, '\mI' || c_adverbs || '\s+(do|go)\M', 'User\1 \2es', 'g');
        end if;
        v := regexp_replace(v, '\mI' || c_adverbs || '\s+(use|drink|play|live|work|prefer|like|love|enjoy|speak|eat|own|'
                               'run|code|commute|get|keep|want|need|pay|take|ride|drive|read|watch|write|travel|follow|wear|'
                               'visit|study|know|make|cook|bake|order|swear|hate|dislike|adore|book|fly|walk|bike|cycle|'
                               'program|develop|build|stay|reside|identify|belong|support|attend|practice|practise|train|'
                               'listen|subscribe|collect|spend|volunteer|teach|sing|dance|paint|draw|host|manage|lead|'
                               'design|test|sell|buy|rent|save|climb|swim|hike|ski|surf|skate|box|meditate|pray)\M',
                            'User\1 \2s', 'g');
        v := regexp_replace(v, '\mI\M', 'User', 'g');
    end if;
    if strpos(lower(v), 'my') > 0 or strpos(lower(v), 'mine') > 0 then
        v := regexp_replace(v, '\m(?:[Mm]y|[Mm]ine)\M', 'User''s', 'g');
    end if;
    if strpos(v, 'me') > 0 or strpos(v, 'myself') > 0 then
        v := regexp_replace(v, '\m(?:me|myself)\M', 'User', 'g');
    end if;
    if strpos(lower(v), 'we') > 0 then
        v := regexp_replace(v, '\m[Ww]e(?:''re| are)\M', 'User is', 'g');
        v := regexp_replace(v, '\m[Ww]e''ve\M', 'User has', 'g');
        v := regexp_replace(v, '\m[Ww]e\M', 'User', 'g');
    end if;
    if strpos(lower(v), 'our') > 0 then
        v := regexp_replace(v, '\m[Oo]ur\M', 'User''s', 'g');
    end if;
    return upper(left(v, 1)) || substr(v, 2);
end
$$;

-- The reverse, for reading: an agent's note about the user ("User prefers dark mode", "Alice
-- lives in Lisbon" for the user alice) reads as the user's own words ("I prefer dark mode"),
-- so a note and a turn that say the same thing get the same slot.
create or replace function _pymem.first_person(p_text text, p_user_id text default null) returns text
    language plpgsql immutable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$
declare
    v text := coalesce(p_text, '');
    v_name text;
    v_subject text;
begin
    -- Most texts start with none of the subjects (the user's name starts as the user id does).
    if not (starts_with(lower(v), 'user') or starts_with(lower(v), 'the user')
            or (length(p_user_id) >= 2 and starts_with(lower(v), lower(left(p_user_id, 2))))) then
        return v;
    end if;
    v_name := lower(split_part(regexp_replace(coalesce(p_user_id, ''), '[^A-Za-z0-9]+', ' ', 'g'), ' ', 1));
    v_subject := '(?:[Tt]he user|[Uu]ser' || case when v_name ~ '^[a-z]{2,}$' then '|' || initcap(v_name) || '|' || v_name else '' end || ')';
    if v !~ ('^' || v_subject || '(?:''s)?\M') then
        return v;
    end if;
    v := regexp_replace(v, '^' || v_subject || '''s\M', 'My');
    v := regexp_replace(v, '^' || v_subject || '\s+is\M', 'I''m');
    v := regexp_replace(v, '^' || v_subject || '\s+has\M', 'I have');
    v := regexp_replace(v, '^' || v_subject || '\s+does\M', 'I do');
    v := regexp_replace(v, '^' || v_subject || '\s+goes\M', 'I go');
    v := regexp_replace(v, '^' || v_subject || '((?:\s+(?:no longer|also|still|usually|always|mostly|now|really|often|never))*)\s+([a-z]+)s\M', 'I\1 \2');
    v := regexp_replace(v, '^' || v_subject || '\M', 'I');
    return v;
end
$$;

-- Words right before a value that make it the OLD one in a sentence that names two:
-- "from X to Y", "Y instead of X", "not X anymore", "no more X", "I replaced my X".
-- ("over to Y" and "from ... to Y" name the new one.)
create or replace function _pymem.names_old_value(p_before text) returns boolean
    language sql immutable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$
    select lower(right(coalesce(p_before, ''), 60)) !~ '(?:\mover|\mto)\s+(?:(?:a|an|the|my)\s+)?$'
       and lower(right(coalesce(p_before, ''), 60)) ~
        ('(?:\mfrom|\minstead of|\mrather than|\mthan|\mnot|\mno more|\mdone with|\mreplaced|\mreplace|\mwiped|'
         '\mditched|\mswapped|\mtraded|\mover|\mleft|\mquit|\mgave up|\mgiven up|\mno longer(?: \w+){0,2}|'
         '\mdropped|\mabandoned|\msold|\mcancell?ed|\mmoved on from|\mexchanged|\mretired|\mdon''t call me|'
         '\mstopped(?: \w+){0,2}|\mused to(?: \w+){0,2}|\mdon''t(?: \w+){0,2}|\mbye|\mgoodbye)'
         '(?:\s+(?:a|an|the|my|our|using|being|going|on|at|for|in|with|by|of))*\s*$')
$$;

-- One value a statement names, put in its place: the old value where the words before it
-- mark it so (names_old_value), else the new one; the first of each is kept. Each reader in
-- analyze_statement calls it for every value it finds.
create or replace function _pymem.place_value(p_before text, p_found text, inout old_value text, inout new_value text)
    language plpgsql immutable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$
begin
    if _pymem.names_old_value(p_before) then
        old_value := coalesce(old_value, p_found);
    elsif new_value is null then
        new_value := p_found;
    end if;
end
$$;

-- A reader of one attribute by the shape of its values: every match of p_pattern in p_text
-- (its first group the value, found where it first stands) makes p_family the statement's
-- attribute, and is put in its place by place_value.
create or replace function _pymem.place_matches(p_text text, p_pattern text, p_family text, inout family text,
                                                inout old_value text, inout new_value text)
    language plpgsql immutable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$
declare
    v_match text[];
begin
    for v_match in select m from regexp_matches(p_text, p_pattern, 'g') m loop
        family := p_family;
        select p.old_value, p.new_value into old_value, new_value
          from _pymem.place_value(left(p_text, greatest(strpos(p_text, v_match[1]) - 1, 0)), v_match[1],
                                  old_value, new_value) p;
    end loop;
end
$$;

-- The single-valued attribute a typed value decides, whatever the verb: any editor is the
-- code editor, any "Theme" the display theme. (A channel counts only where the sentence is
-- about notifications: "I emailed Bob" sets nothing.)
create or replace function _pymem.attribute_of_type(p_entity_type text) returns text
    language sql immutable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$
    select case p_entity_type
        when 'Theme' then 'display_theme' when 'Editor' then 'code_editor'
        when 'OperatingSystem' then 'operating_system' when 'Phone' then 'phone' when 'Diet' then 'diet'
        when 'Units' then 'units' when 'TimeZone' then 'time_zone' when 'CoffeeDrink' then 'coffee_order'
        when 'Channel' then 'notification_channel' end
$$;

-- A value as a memory may state it: one to five words, none of which is a pronoun, an
-- article, an auxiliary or a conjunction, as written, inside it ("make a doctor", "me as an engineer",
-- "with a well-known artist" are pieces of a sentence, not values). A reading whose value
-- is not clean is refused, never written as a slot value.
create or replace function _pymem.is_clean_value(p_value text) returns boolean
    language sql immutable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$
    select coalesce(p_value, '') ~ '^[[:alnum:]][[:alnum:]''&+#./-]*(?:\s+[[:alnum:]''&+#./-]+){0,4}$'
       -- (words as written: "IT job" is a value, "it" inside one is not)
       and not regexp_split_to_array(p_value, '\s+') && array['i', 'I', 'me', 'my', 'mine', 'you', 'your', 'yours', 'he', 'him', 'his',
           'she', 'her', 'we', 'us', 'our', 'they', 'them', 'their', 'it', 'its', 'that', 'this', 'these', 'those', 'which',
           'who', 'what', 'when', 'where', 'why', 'how', 'a', 'an', 'the', 'is', 'are', 'was', 'were', 'be', 'been', 'being',
           'am', 'do', 'does', 'did', 'have', 'has', 'had', 'will', 'would', 'can', 'could', 'should', 'shall', 'not', 'no',
           'to', 'as', 'with', 'and', 'or', 'but', 'so', 'because', 'if', 'than', 'then', 'make', 'made', 'get', 'got', 'go',
           'going', 'gonna', 'wanna', 'grow', 'want', 'need']
$$;

-- A cessation names what ends, in the words that end it: the value right after the cue
-- ("no longer use Vim", "gave up my gym membership", "let my pass lapse"), between a negation
-- and "anymore" ("not vegetarian anymore"), before "since" after "haven't" ("haven't played
-- rugby since"), or before the words that say it ended ("my subscription ran out", "the
-- project is cancelled"). p_text is the statement; p_value what the reading says ends. In the
-- LoCoMo audit, a cessation word anywhere in the sentence ("used to" in "I used to go
-- riding with my dad", "never give up" in "never give up on my goals") named the wrong thing.
create or replace function _pymem.cessation_names(p_text text, p_value text) returns boolean
    language plpgsql immutable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$
declare
    v_text   text := lower(coalesce(p_text, ''));
    v_value  text := lower(btrim(coalesce(p_value, '')));
    v_pos    integer := case when v_value <> '' then strpos(lower(coalesce(p_text, '')), v_value) else 0 end;
    v_before text;
    v_after  text;
begin
    if v_pos = 0 or not _pymem.is_clean_value(btrim(p_value)) then
        return false;
    end if;
    v_before := right(left(v_text, v_pos - 1), 100);
    v_after := left(substr(v_text, v_pos + length(v_value)), 60);
    return v_before ~ ('\m(?:no longer|stopped|quit|quitting|gave up|given up|used to|no more|done with|cancell?ed|sold|'
                       'got rid of|dropped|ditched|gave away|given away|retired from|moved on from|dropped out of|left|'
                       'unsubscribed from|cut out|kicked|let|traded in|deleted)'
                       '(?:\s+(?:on|of|from|using|use|being|be|drinking|drink|playing|play|eating|eat|having|have|owning|own|'
                       'riding|ride|driving|drive|doing|do|going|go|paying|pay|for|working|work|living|live|wearing|wear|'
                       'taking|take|attending|attend|training|train|keeping|keep|at|in|with|a|an|the|my|our|to|as))*\s*$')
        or (v_before ~ '(?:\mnot|n''t|\mnever|\mno)(?:\s+[\w''-]+){0,3}\s*$'
            and v_after ~ '^\s*(?:[\w''-]+\s+){0,2}?(?:any ?more|any longer)\M')
        or (v_before ~ '(?:\mhaven''t|\mhave not|\mhasn''t|\mhas not)(?:\s+[\w''-]+){0,2}\s*$' and v_after ~ '^\s*since\M')
        or v_after ~ ('^(?:''s)?\s*(?:[\w-]+\s+)?(?:lapse|lapsed|expire|expired|ran out|run out|has ended|have ended|ended|'
                      '(?:is|are|was|were|has been|have been|got) (?:over|gone|cancell?ed|behind me|off my))\M');
end
$$;

-- What one sentence asserts. Returns a JSON object:
--   memorable    worth a memory of its own (an assertion about someone; no question,
--                hypothetical or small talk)
--   subject      'user', or who else it is about ('sister', 'boss', a name)
--   modality     assertion | question | hypothetical | plan
--   polarity     positive | cessation (it stops being true: close, never store as a fact)
--   attribute    the slot's attribute: a family of _pymem.attributes ('display_theme'), that
--                family and the object for many-valued ones ('pets:cat'), or one of its own
--                ('prefers:aisle_seats'); null when the sentence names no attribute
--   family, cardinality ('one' | 'many' | 'own'), value, old_value (the value it replaces,
--                when it names both), update_cue, kind, content (how a memory states it),
--                entities [{name, type}]
-- p_user_id lets "Alice prefers dark mode" be about the user alice; p_spoken: the user said
-- it (a turn), so "Bob lives in Paris" is about Bob, where an agent's note would mean the user.
create or replace function pymem.analyze_statement(p_text text, p_user_id text default null,
                                                   p_spoken boolean default false)
    returns jsonb
    language plpgsql stable security invoker parallel safe
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    c_people constant text := '(sister|brother|sibling|wife|husband|spouse|partner|boyfriend|girlfriend|fianc[eé]e?|'
        'best friend|friend|boss|manager|mentor|colleague|coworker|co-worker|teammate|mom|mum|mother|dad|father|parents|'
        'parent|son|daughter|kids|kid|children|child|baby|cousin|aunt|uncle|niece|nephew|grandma|grandmother|grandpa|'
        'grandfather|grandparents|neighbou?r|roommate|flatmate|housemate|landlord|landlady|doctor|therapist|dentist|'
        'family|in-laws|client|customer|student|teacher|coach|team|company|dog|cat|buddy|buddies|mate|mates|pal|'
        'crew|group|staff|office|department|class|classmates|colleagues|friends|neighbours|neighbors|relatives)';
    c_occupations constant text[] := array['engineer', 'developer', 'designer', 'analyst', 'writer', 'manager',
        'scientist', 'researcher', 'teacher', 'nurse', 'doctor', 'lawyer', 'accountant', 'architect', 'consultant',
        'programmer', 'administrator', 'director', 'lead', 'officer', 'specialist', 'editor', 'technician', 'marketer',
        'recruiter', 'chef', 'photographer', 'musician', 'artist', 'student', 'intern', 'founder', 'ceo', 'cto', 'cfo',
        'owner', 'coordinator', 'assistant', 'advisor', 'adviser', 'strategist', 'producer', 'translator', 'journalist',
        'pharmacist', 'therapist', 'electrician', 'plumber', 'mechanic', 'pilot', 'tester', 'operator', 'associate',
        'executive', 'economist', 'librarian', 'paramedic', 'firefighter', 'surgeon', 'dentist', 'veterinarian',
        'vet', 'scrum master', 'product owner'];
    c_occupation constant text := '(?:' || array_to_string(c_occupations, '|') || ')';
    -- Words that say something stops being true; and the ones a keyword list cannot say, only
    -- when a word they need is there (every keyword test below is a test of word runs).
    c_cessation constant text[] := array['no longer', 'not any more', 'not anymore', 'stopped', 'quit', 'quitting',
        'gave up', 'given up', 'give up', 'used to', 'no more', 'done with', 'cancelled', 'canceled', 'sold',
        'got rid of', 'dropped', 'ditched', 'gave away', 'given away', 'ran out', 'expired', 'ended', 'terminated',
        'retired from', 'not going back', 'never again', 'moved on from', 'dropped out of', 'left the', 'left my',
        'left our', 'unsubscribed', 'cut out', 'kicked', 'no longer have'];
    -- Phrases that hold one of those words but end nothing ("I'm still getting used to
    -- Tokyo", "we ended up going with Scout", "I won't quit on my dreams", "I dropped off the
    -- cakes"): left out before the test. ("don't have" is no cessation either: "we don't
    -- have a preferred airline" never had one; "don't have X anymore" still reads as one.)
    c_not_cessation constant text := '\m(?:(?:get|gets|getting|got|gotten|be|been|being|am|is|are|was|were|i''m|we''re|'
        'you''re|they''re|he''s|she''s|it''s|become|becoming|became|grow|growing|grew)\s+(?:\w+\s+)?used to|ended up|'
        'ended with|(?:won''t|will not|wouldn''t|would not|never|not gonna|not going to|don''t|do not|didn''t|can''t|'
        'cannot|shouldn''t|to)\s+(?:ever\s+)?(?:\w+\s+)?(?:quit|quitting|give up|gave up|giving up|stop|stopped|stopping)|'
        'let go|dropped (?:off|by|in)|left (?:for|at|with|behind|early|work))\M';
    v_cease_runs text[];
    v_cease_text text;
    v_two_new   boolean := false;  -- two values of one attribute, neither marked old
    c_cessation_phrases constant text := '\m(?:let (?:[\w-]+ ){1,4}(?:lapse|expire|go)|haven''t (?:[\w-]+ ){0,3}since|'
                                         'have not (?:[\w-]+ ){0,3}since|not (?:\w+ ){0,3}any ?more)\M';
    v_text      text;
    v_lower     text;
    v_runs      text[];
    v_leading   text[];
    v_cue       boolean;
    v_subject   text := 'user';
    v_modality  text := 'assertion';
    v_polarity  text := 'positive';
    v_family    text;
    v_what      text;
    v_value     text;
    v_old       text;
    v_object    text;
    v_verb      text;
    v_kind      text;
    v_content   text;
    v_attribute text;
    v_surface   text;
    v_match     text[];
    v_entities  jsonb := '[]';
    v_mention   record;
    v_pos       integer;
    v_attr      _pymem.attributes;
begin
    select s.statement, s.cue into v_text, v_cue from _pymem.strip_discourse(p_text) s;
    v_text := _pymem.first_person(v_text, p_user_id);
    if v_text = '' or length(v_text) > 600 then
        return jsonb_build_object('memorable', false, 'reason', case when v_text = '' then 'empty' else 'too long' end);
    end if;
    v_lower := lower(v_text);
    -- Its runs of words, and the ones it starts with (its whitespace is single spaces, none
    -- at either end: strip_discourse)
    v_runs := _pymem.word_runs(v_lower);
    v_leading := case when starts_with(v_lower, v_runs[1]) then v_runs[1:5] else '{}' end;
    v_cue := v_cue or v_runs && array['now', 'actually', 'switched', 'switch', 'switching', 'changed', 'change', 'moved',
                                      'move', 'these days', 'nowadays', 'instead', 'any more', 'anymore', 'no longer',
                                      'from now on', 'replaced', 'became', 'become', 'went from', 'gone over', 'converted',
                                      'promoted', 'joined', 'started at', 'relocated', 'going forward', 'lately'];

    -- Who it is about: the user, unless "my sister ...", or (in the user's own words) a
    -- named person or he/she/they.
    v_match := case when v_runs && array['my', 'our'] then
        regexp_match(v_lower, '^(?:(?:half|most|some|all|many|one|two|a few|none|several|both)\s+(?:of\s+)?)?'
                              '(?:my|our)\s+(?:[\w-]+\s+){0,2}' || c_people || '(?:''s)?\M') end;
    if v_match is not null then
        v_subject := case v_match[1] when 'parents' then 'parent' when 'kids' then 'child' when 'kid' then 'child'
                                     when 'children' then 'child' when 'grandparents' then 'grandparent'
                                     when 'neighbour' then 'neighbor' else v_match[1] end;
    else
        v_match := case when ascii(v_text) between 65 and 90 and ascii(substr(v_text, 2)) between 97 and 122 then  -- [A-Z][a-z]
            regexp_match(v_text, '^([A-Z][a-z]+)(?:''s)?\s+(?:is|was|has|had|lives|lived|works|worked|prefers|likes|'
                                 'loves|uses|hates|speaks|drinks|eats|plays|moved|switched|goes|got|keeps|'
                                 'swears|runs|owns|drives|wants|needs|enjoys|codes|commutes)\M') end;
        if v_match is not null and lower(v_match[1]) not in ('user', 'we', 'they', 'he', 'she', 'it', 'you', 'this',
                                                              'that', 'these', 'those', 'there', 'here', 'please', 'everyone')
           and not exists (select from _pymem.recognize(v_match[1]) r where r.entity_type <> 'Person') then
            if p_user_id is not null
               and lower(v_match[1]) = lower(split_part(regexp_replace(p_user_id, '[^A-Za-z0-9]+', ' ', 'g'), ' ', 1)) then
                v_subject := 'user';
            elsif p_spoken then
                v_subject := lower(v_match[1]);
            end if;
        elsif p_spoken and v_leading[1] in ('he', 'she', 'they', 'his', 'her', 'their')
              and substr(v_lower, length(v_leading[1]) + 1, 1) <> '/' then  -- "he/him" is a value
            v_subject := 'someone';
        elsif p_spoken and (v_leading && array['everyone', 'everybody', 'nobody', 'people', 'most people', 'the team',
                                               'the company', 'the office', 'the family', 'the kids', 'the rest',
                                               'the whole team', 'the whole company', 'the whole office',
                                               'the whole family', 'the whole kids', 'the whole rest', 'a friend of',
                                               'a colleague of', 'a coworker of', 'a neighbour of', 'a neighbor of']
                            -- A statement in the user's own words whose subject is a third-person noun
                            -- phrase and that names no one of the first person ("The whole office runs
                            -- Linux") is about someone else.
                            or (v_leading[1] in ('the', 'a', 'an', 'this', 'that', 'these', 'those', 'his', 'her', 'their',
                                                 'its')
                                and v_leading[2] = v_leading[1] || ' ' || v_runs[6]  -- a word follows
                                and not v_runs && array['i', 'i''m', 'i''ve', 'i''d', 'i''ll', 'me', 'my', 'mine', 'myself',
                                                        'we', 'we''re', 'we''ve', 'us', 'our', 'ours', 'please']
                                and v_runs && array['is', 'are', 'was', 'were', 'has', 'have', 'had', 'runs', 'uses', 'prefers',
                                                    'likes', 'loves', 'lives', 'works', 'speaks', 'drinks', 'eats', 'plays',
                                                    'owns', 'drives', 'goes', 'keeps', 'swears', 'wants', 'needs'])) then
            v_subject := 'someone';
        end if;
    end if;

    -- "My doctor put me on a paleo diet": someone else acts, the user is the one it is about.
    if v_subject <> 'user' and 'me' = any(v_runs)
       and v_lower ~ '\m(?:put|got|switched|moved|signed|enrolled|registered) me (?:on|onto|to|up for|into|in)\M' then
        v_subject := 'user';
    end if;

    -- Questions, hypotheticals and plans assert nothing yet.
    if v_text like '%?' or v_leading && array['should', 'could', 'can', 'would', 'will', 'shall', 'do', 'does', 'did',
                                              'is', 'are', 'am', 'was', 'were', 'what', 'which', 'who', 'whom', 'whose',
                                              'where', 'when', 'why', 'how', 'isn''t', 'aren''t', 'doesn''t', 'wouldn''t',
                                              'shouldn''t'] then
        v_modality := 'question';
    elsif v_runs && array['if', 'suppose', 'supposing', 'imagine', 'hypothetically', 'in case', 'unless', 'i wish', 'wish i',
                          'would have', 'would be like', 'wonder', 'in another life', 'in a game', 'in a story',
                          'in a novel', 'in a dream', 'role-playing', 'roleplaying', 'for my character', 'pretend'] then
        v_modality := 'hypothetical';
    elsif v_runs && array['might', 'maybe', 'perhaps', 'possibly', 'probably', 'someday', 'some day', 'one day', 'eventually',
                          'thinking about', 'thinking of', 'considering', 'planning', 'plan to', 'going to', 'gonna',
                          'hope to', 'hoping to', 'hopefully', 'wanna', 'want to', 'would like to', 'intend to', 'tempted',
                          'not sure', 'nothing is decided', 'undecided', 'debating', 'wondering', 'interview',
                          'interviewing', 'may', 'chance', 'could be', 'curious about', 'at some point']
          -- the future, or for a while only: not what holds now ("I'll be on CET next week",
          -- "for a week while I travel"), unless it says it holds from now on
          or ((v_runs && array['will', 'shall', 'next week', 'next month', 'next year', 'next time', 'soon', 'later',
                               'tomorrow', 'temporarily']
               -- (these may start inside a word: "I'll")
               or (v_lower like any (array['%''ll%', '%for a %', '%for one %', '%for two %', '%for three %',
                                           '%for the next %', '%while i%', '%until%', '%for now%', '%this week only%',
                                           '%on holiday%', '%on vacation%', '%on a trip%', '%travel%'])
                   and v_lower ~ ('(?:''ll|for (?:a|one|two|three|a few|the next) (?:day|days|week|weeks|month|months)|'
                                  'while i''m|while i am|until|for now|this week only|on holiday|on vacation|on a trip|'
                                  'travell?ing)\M')))
              and not v_runs && array['from now on', 'going forward', 'from today', 'for good', 'permanently', 'these days']) then
        v_modality := 'plan';
    end if;

    -- Any other modal verb says it does not simply hold now ("I could see myself on Eastern
    -- time", "I should probably try Vim"): not an assertion. A wish stated as what the user
    -- wants now is one ("I'd rather have X now", "I'd like reminders by Slack these days").
    if v_modality = 'assertion'
       and (v_runs && array['would', 'could', 'might', 'may', 'should', 'must', 'shall', 'ought']
            or ((strpos(v_lower, '''d') > 0 or strpos(v_lower, 'can see myself') > 0)
                and v_lower ~ '(?:''d\M|\mcan see myself)'))
       and not v_runs && array['from now on', 'going forward', 'these days', 'nowadays', 'instead', 'now']
       and v_lower !~ '(?:''d|\mwould) (?:(?:much|really|definitely) )?(?:like|rather|prefer|love|want)\M' then
        v_modality := 'plan';
    end if;

    -- Cessation: it stops being true ("Not X anymore - Y please" is split into two clauses
    -- before this, so each half reads on its own).
    v_cease_runs := v_runs;
    v_cease_text := v_lower;
    if v_runs && (c_cessation || array['ended', 'let', 'used to', 'dropped', 'left'])
       and v_lower ~ c_not_cessation then
        v_cease_text := regexp_replace(v_lower, c_not_cessation, ' ', 'g');
        v_cease_runs := _pymem.word_runs(v_cease_text);
    end if;
    if v_cease_runs && c_cessation
       or (v_cease_runs && array['let', 'since', 'any', 'anymore'] and v_cease_text ~ c_cessation_phrases)
       or (v_cease_runs && array['don''t', 'do not', 'doesn''t', 'didn''t', 'not', 'am not', 'isn''t', 'aren''t', 'never']
           and v_cease_runs && array['any more', 'anymore']) then
        v_polarity := 'cessation';
    end if;

    select coalesce(jsonb_agg(jsonb_build_object('name', r.entity_name, 'type', r.entity_type) order by r.word_index), '[]')
      into v_entities from _pymem.recognize_spans(v_text, true) r;

    -- 1. Attributes decided by the type of the value, whatever the verb: the first value
    -- not marked as the old one ("from X", "instead of X", "not X") is the new one.
    for v_mention in
        select r.entity_name, _pymem.attribute_of_type(r.entity_type) as family, r.words_before
        from _pymem.recognize_spans(v_text, true) r
        where _pymem.attribute_of_type(r.entity_type) is not null
          and (r.entity_type <> 'Channel'
               or v_lower ~ '\m(?:notif\w*|alerts?|remind\w*|ping|pings|message me|contact me|reach me|updates?)\M')
          -- A time zone right after a clock time is part of that time ("a call at 2pm EST", "at
          -- 10:30 CET"), not anyone's time zone: read as one, a correction of the time folded
          -- into the old time as the same value (StateBench train, 11 queries).
          and (r.entity_type <> 'TimeZone' or r.words_before !~ '\d\s*(?:am|pm|a m|p m|h|hrs)?$')
          -- "UTC-3", "GMT +2": the offset is part of the value (read by its shape, below), or
          -- "put everything on UTC-3" is written as "User's time zone is UTC"
          and (r.entity_type <> 'TimeZone' or v_text !~* ('\m' || _pymem.regex_escape(r.entity_name) || '\s*[+-]\s*\d'))
          -- A diet word is the user's diet only where the words before it say so ("I'm vegan",
          -- "I went keto", "I keep a strict kosher diet"), not where it describes a dish ("I
          -- made vegan ice cream", "a gluten-free crust": four wrong diet changes in the audit).
          and (r.entity_type <> 'Diet'
               -- (words_before is lowercase words only: "i m" is "I'm")
               or r.words_before ~ ('(?:\mi m|\mi am|\mim|\mwe re|\mwe are|\mbeen|\mbe|\mbeing|\mwent|\mgo|\mgone|'
                                     '\mgoing|\mbecame|\mbecome|\mturned|\meat|\meating|\mkeep|\mkeeping|\mfollow|'
                                     '\mfollowing|\mon|\mdiet is|\mstopped|\mnot|\mno longer|\mquit|\mgave up|'
                                     '\mgiven up|\mdropped|\mto|\mfrom|\minstead of|\mthan)'
                                     '(?:\s+(?:a|an|the|strict|strictly|fully|mostly|mainly|now|still|also|completely|'
                                     'totally|really|more|of|to))*\s*$'))
        order by r.word_index
    loop
        continue when v_family is not null and v_family <> v_mention.family;
        v_family := v_mention.family;
        v_two_new := v_two_new or (v_value is not null and lower(v_value) <> lower(v_mention.entity_name)
                                   and not _pymem.names_old_value(v_mention.words_before));
        select p.old_value, p.new_value into v_old, v_value
          from _pymem.place_value(v_mention.words_before, v_mention.entity_name, v_old, v_value) p;
    end loop;

    -- 2. Values the gazetteer cannot list, by their shape: "<x> mode", "<x> seat",
    -- "<x> answers", "he/him", "UTC+2", "Europe/Berlin". One value word (hyphens allowed).
    if (v_family is null or v_value is null)
       and v_runs && array['mode', 'theme', 'seat', 'seats', 'answers', 'responses', 'replies', 'summaries', 'explanations',
                           'walkthroughs', 'breakdowns', 'overviews', 'outlines', 'bullet points', 'paragraphs', 'drafts'] then
        for v_match in select m from regexp_matches(v_lower,
                '(?:^|[^a-z-])([a-z]+(?:-[a-z]+)*)[- ](mode|theme|seats?|answers|responses|replies|summaries|explanations|walkthroughs|breakdowns|overviews|'
                'outlines|bullet points|paragraphs|drafts)\M', 'g') m
        loop
            continue when v_match[1] ~ ('^(?:a|an|the|my|your|to|in|of|for|with|this|that|these|those|same|some|any|all|'
                                        'airplane|flight|focus|sleep|power|saving|silent|game|gaming|safe|incognito|'
                                        'private|edit|insert|normal|visual|command|developer|kiosk|reader|reading|offline|'
                                        'work|party|beast|survival|creative|debug|test|car|back|driver|passenger|toilet|'
                                        'booster|child|baby|give|have|get|want|short|long|quick|good|better|best)$');
            continue when v_family is not null and v_family <> case
                when v_match[2] in ('mode', 'theme') then 'display_theme'
                when v_match[2] ~ '^seat' then 'seat' else 'response_style' end;
            v_family := case when v_match[2] in ('mode', 'theme') then 'display_theme'
                             when v_match[2] ~ '^seat' then 'seat' else 'response_style' end;
            v_pos := strpos(v_lower, v_match[1] || ' ' || v_match[2]);
            if v_pos = 0 then v_pos := strpos(v_lower, v_match[1] || '-' || v_match[2]); end if;
            select p.old_value, p.new_value into v_old, v_value
              from _pymem.place_value(left(v_lower, greatest(v_pos - 1, 0)),
                                      v_match[1] || ' ' || regexp_replace(v_match[2], '^seats$', 'seat'), v_old, v_value) p;
        end loop;
    end if;
    if (v_family is null or (v_family = 'pronouns' and v_value is null)) and strpos(v_lower, '/') > 0 then
        select p.family, p.old_value, p.new_value into v_family, v_old, v_value
          from _pymem.place_matches(v_lower,
                 '\m((?:he|she|they|xe|ze|ey|fae|it|any)/(?:he|she|they|him|her|them|xe|xem|ze|zir|hir|em|faer|its|all|any)(?:/[a-z]+)?)\M',
                 'pronouns', v_family, v_old, v_value) p;
    end if;
    if v_family is null or (v_family = 'time_zone' and v_value is null) then
        if v_runs && array['utc', 'gmt'] or strpos(v_text, '/') > 0 then
            select p.family, p.old_value, p.new_value into v_family, v_old, v_value
              from _pymem.place_matches(v_text,
                     '(\m(?:[Uu][Tt][Cc]|[Gg][Mm][Tt])\s*[+-]\s*\d{1,2}(?::\d{2})?|\m[A-Z][a-z]+/[A-Z][A-Za-z_]+(?:/[A-Z][A-Za-z_]+)?)',
                     'time_zone', v_family, v_old, v_value) p;
            -- (No value was set before this block, so one now is a match.) An offset is
            -- kept in capitals without spaces: "utc + 2" is UTC+2.
            if v_value !~ '/' then
                v_value := upper(regexp_replace(v_value, '\s+', '', 'g'));
            end if;
        end if;
        if v_family is null and v_runs && array['time zone', 'timezone'] then
            v_match := regexp_match(v_text, '\mtime ?zone\M(?:\s+(?:is|to|changed to|is now|now))+\s+([^,;.!?]+)', 'i');
            if v_match is not null then
                v_family := 'time_zone';
                v_value := v_match[1];
            end if;
        end if;
    end if;

    -- 3. Attributes decided by the verb or a naming phrase.
    if v_family is null then
        -- name: "my name is X", "call me X", "I go by X", "everyone calls me X", "I'm X, by the way",
        -- "I prefer X to Y as a name", "Don't call me Y anymore, it's X"
        v_match := case when 'prefer' = any(v_runs) and strpos(v_lower, 'name') > 0 then
            regexp_match(v_text, '\mprefer\s+([A-Z][\w''-]*)\s+to\s+([A-Z][\w''-]*)\s+as\s+(?:a|my)\s+name', 'i') end;
        if v_match is not null then
            v_family := 'name';
            v_value := v_match[1];
            v_old := v_match[2];
        else
            if v_runs && array['my name is', 'my name''s', 'call me', 'calls me', 'i go by', 'i''m called', 'i am called',
                              'known as', 'prefer to be called', 'be called', 'name to', 'name changed to',
                              'address me as', 'refer to me as', 'call me by', 'name is now', 'goes by', 'i''m', 'i am'] then
                for v_match in select m from regexp_matches(v_text,
                        '\m((?:[Mm]y name is(?: now)?|[Mm]y name''s|[Cc]all(?:s)? me|[Ii] go by|[Ii]''m called|[Ii] am called|'
                        'known as|prefer to be called|be called|name (?:changed )?to|address me as|refer to me as|call me by|'
                        'name is now|goes by|^[Ii]''m|^[Ii] am))\s+([A-Z][\w''-]*(?:\s+[A-Z][\w''-]*)?)(?=\s*(?:[,.;!?]|$|now\M|'
                        'from now on|please|instead|anymore|any more|so\M|by the way|here|again))', 'g') m
                loop
                    continue when v_match[1] ~* '^i(?:''m| am)$'
                              and (v_match[2] ~* '^(?:sorry|back|fine|good|great|here|done|ready|sure|okay|ok|happy|tired|busy|'
                                                 'not|also|just|still|now|so|very|really|glad|new|home|in|out|afraid|aware)$'
                                   or exists (select from _pymem.recognize(v_match[2]) r));
                    v_family := 'name';
                    v_pos := strpos(v_text, v_match[1] || ' ' || v_match[2]);
                    if _pymem.names_old_value(left(v_text, greatest(v_pos - 1, 0)) || ' ' || v_match[1])
                       or left(v_text, greatest(v_pos - 1, 0)) ~* '(?:don''t|do not|never|stop)\s*$' then
                        v_old := coalesce(v_old, v_match[2]);
                    elsif v_value is null then
                        v_value := v_match[2];
                    end if;
                end loop;
            end if;
            if v_family = 'name' and v_value is null then
                v_value := (regexp_match(v_text, '\m(?:it''s|it is|now it''s)\s+([A-Z][\w''-]*)'))[1];
            end if;
            if v_family = 'name' then
                v_subject := 'user';  -- "Everyone calls me Jo": about the user, whoever speaks first
            end if;
        end if;
    end if;
    if v_family is null then
        -- home: "I live in X", "moved/relocated to X", "home is X", "based in X"
        v_match := case when v_runs @> array['from', 'to'] then
            regexp_match(v_text, '\mfrom\s+([A-Z][\w''-]*(?:[ -][A-Z][\w''-]*){0,3})\s+to\s+([A-Z][\w''-]*(?:[ -][A-Z][\w''-]*){0,3})') end;
        if v_match is not null and v_lower ~ '\m(?:moved|moving|relocated|relocating|move)\M' then
            v_family := 'home_city';
            v_old := v_match[1];
            v_value := v_match[2];
        else
            if v_runs && array['place', 'home', 'flat', 'apartment', 'house', 'address', 'live', 'living', 'lives', 'reside',
                              'residing', 'based', 'settled', 'staying', 'moved', 'moving', 'relocated', 'relocating',
                              'hometown', 'city'] then
                for v_match in select m from regexp_matches(v_text,
                        '\m((?:[Mm]y|[Oo]ur)\s+(?:new\s+)?(?:place|home|flat|apartment|house|address)\s+is(?:\s+now)?\s+in|'
                        '(?:live|living|lives|reside|residing|based|settled|staying|moved|moving|relocated|relocating)'
                        '(?:\s+(?:back|here|there|now|over|permanently))?\s+(?:in|to)|[Hh]ome(?:\s+for\s+(?:me|us))?\s+is'
                        '(?:\s+now)?|hometown\s+is|city\s+is)\s+([A-Z][\w''-]*(?:[ -][A-Z][\w''-]*){0,3})', 'g') m
                loop
                    v_family := 'home_city';
                    v_pos := strpos(v_text, v_match[1] || ' ' || v_match[2]);
                    select p.old_value, p.new_value into v_old, v_value
                      from _pymem.place_value(left(v_text, greatest(v_pos - 1, 0)), v_match[2], v_old, v_value) p;
                end loop;
            end if;
        end if;
    end if;
    if v_family is null then
        -- "I call Ljubljana home"
        v_match := case when v_runs @> array['call', 'home'] then
            regexp_match(v_text, '\m[Cc]all\s+([A-Z][\w''-]*(?:[ -][A-Z][\w''-]*){0,3})\s+home\M') end;
        if v_match is not null then
            v_family := 'home_city';
            v_value := v_match[1];
        end if;
    end if;
    if v_family is null then
        -- employer: "I work at/for X", "employed by X", "joined X", "started at X"
        if v_runs && array['work', 'working', 'worked', 'job', 'employed', 'joined', 'started', 'hired', 'been', 'be', 'am',
                          'i''m', 'offer', 'employer'] then
            for v_match in select m from regexp_matches(v_text,
                    '\m((?:work(?:ing|ed)?|job)\s+(?:at|for)|employed\s+(?:by|at)|joined|started\s+(?:at|with)|hired\s+by|'
                    '(?:been|be|am|[Ii]''m)\s+with|offer\s+from|'
                    '[Ii]''m\s+(?:now\s+|not\s+|no\s+longer\s+)?at|[Ii]\s+am\s+(?:now\s+|not\s+|no\s+longer\s+)?at|employer\s+is)\s+([A-Z][\w&''.-]*(?:\s+(?:&\s+)?[A-Z][\w&''.-]*){0,4})', 'g') m
            loop
                continue when v_match[2] ~ '^(?:I|The|A|Home|Work|Night|Weekends?)$';
                continue when v_match[1] ~* '^i(?:''m|\s+am)' and v_lower !~ '\m(?:job|jobs|work|company|employ\w*|hired|joined)\M';
                v_family := 'employer';
                v_pos := strpos(v_text, v_match[1] || ' ' || v_match[2]);
                select p.old_value, p.new_value into v_old, v_value
                  from _pymem.place_value(left(v_text, greatest(v_pos - 1, 0)), v_match[2], v_old, v_value) p;
            end loop;
        end if;
        if (v_family is null or (v_family = 'employer' and v_value is null))
           and 'me' = any(v_runs) and v_runs && array['hired', 'recruited', 'took on', 'offered'] then
            v_match := regexp_match(v_text, '(?:^|[,;]\s*)([A-Z][\w&''.-]*(?:\s+(?:&\s+)?[A-Z][\w&''.-]*){0,4})\s+(?:hired|recruited|took on|offered)\s+me\M');
            if v_match is not null then
                v_family := 'employer';
                v_value := v_match[1];
            end if;
        end if;
    end if;
    if v_family is null and v_runs && (c_occupations || array(select o || 's' from unnest(c_occupations) o))
       and v_runs && array['work', 'working', 'worked', 'title', 'role', 'position', 'job', 'promoted', 'trade', 'profession',
                           'i''m', 'i am', 'became', 'become', 'moved', 'switched', 'changed', 'now', 'as'] then
        -- job title: "I work as a X", "I'm a X by trade", "my title is X", "promoted to X"
        for v_match in select m from regexp_matches(v_lower,
                '(?:^|\s)(?:an?\s+)?((?:[a-z-]+\s+){0,3}' || c_occupation || ')\M', 'g') m
        loop
            v_match[1] := regexp_replace(v_match[1], '^(?:(?:i''m|i|am|work|working|as|is|to|changed|now|not|a|an|the|my|'
                                                   'moved|from|into|switched|went|go|promoted|became|become|got|'
                                                   'title|role|position|job|promoted|became|become|got|still|just|and|but)\s+)+', '');
            continue when v_match[1] = '' or v_match[1] ~ '^(?:best|good|great|bad|former|ex)\M';
            v_pos := strpos(v_lower, v_match[1]);
            -- Only a clean title, and not one said of the person spoken to ("so happy you
            -- became an engineer"): the audit found "User works as make a doctor".
            continue when not _pymem.is_clean_value(v_match[1])
                      or left(v_lower, greatest(v_pos - 1, 0)) ~ '\m(?:you|your|you''re|he|she|they|his|her|their|he''s|she''s|they''re)\M';
            v_family := 'job_title';
            select p.old_value, p.new_value into v_old, v_value
              from _pymem.place_value(left(v_lower, greatest(v_pos - 1, 0)), v_match[1], v_old, v_value) p;
        end loop;
    end if;
    if v_family is null and v_runs && array['commute', 'commuting', 'get to work', 'get to the office', 'go to work',
                                            'go to the office', 'travel to work', 'travel to the office', 'ride to work',
                                            'drive to work', 'head to work', 'head to the office', 'going', 'go', 'travel'] then
        -- commute: "I commute by X", "I get to work/the office by X"
        select p.family, p.old_value, p.new_value into v_family, v_old, v_value
          from _pymem.place_matches(v_lower,
                 '(by (?:bike|bicycle|train|car|bus|tram|subway|metro|underground|tube|ferry|scooter|e-bike|motorbike|'
                 'motorcycle|taxi|carpool|boat)|on foot)', 'commute', v_family, v_old, v_value) p;
    end if;
    if v_family is null
       and (v_runs && array['favourite', 'favorite', 'more than anything', 'above all', 'best of all', 'number one']
            or (v_runs && array['most', 'best'] and v_lower ~ '\m(?:enjoy|love|like)(?: \w+){0,3} (?:most|best)\M')) then
        -- favourites: "my favourite <what> is X", "X has replaced Y as my favourite <what>",
        -- "X is the <what> I enjoy most", "I enjoy X most now"
        v_family := 'favorite';
        v_match := regexp_match(v_lower, '\mfavou?rite\s+([a-z]+(?:\s+[a-z]+)?)\s+(?:is|are)\M');
        v_what := v_match[1];
        v_match := regexp_match(v_text, '\mfavou?rite\s+[A-Za-z]+(?:\s+[A-Za-z]+)?\s+(?:is|are)(?:\s+now)?\s+([^,;.!?]+)');
        if v_match is not null then
            v_value := v_match[1];
        else
            v_match := regexp_match(v_text, '^([^,;.!?]+)\s+has\s+replaced\s+([^,;.!?]+)\s+as\s+(?:my|the)\s+(?:new\s+)?favou?rite\s+([a-z]+(?:\s+[a-z]+)?)', 'i');
            if v_match is not null then
                v_value := v_match[1];
                v_old := v_match[2];
                v_what := lower(v_match[3]);
            else
                v_match := regexp_match(v_text, '^([^,;.!?]+)\s+is\s+(?:my|the)\s+(?:new\s+)?(?:favou?rite\s+)?([a-z]+(?:\s+[a-z]+)?)(?:\s+(?:that\s+)?i\s+(?:enjoy|like|love)\s+(?:the\s+)?(?:most|best))?', 'i');
                if v_match is not null then
                    v_value := v_match[1];
                    v_what := lower(v_match[2]);
                else
                    v_match := regexp_match(v_text, '\m(?:enjoy|like|love)\s+(\w+(?:\s+\w+)?)\s+(?:the\s+)?(?:most|best)\M', 'i');
                    v_value := v_match[1];
                end if;
            end if;
        end if;
        v_value := _pymem.clean_value(v_value);
        if v_value is null or v_value ~* '^(?:it|that|this|mine|my favou?rite)$' then
            -- "I've fallen for Rust, it's my favourite now": the thing the sentence names
            select r.entity_name into v_value from _pymem.recognize_spans(v_text, true) r
            where not _pymem.names_old_value(r.words_before) order by r.word_index limit 1;
        end if;
        if v_what is null or v_what in ('thing', 'one', 'favourite', 'favorite', 'choice', 'pick') then
            select lower(r.entity_type) into v_what from _pymem.recognize(v_value) r limit 1;  -- "Rust": a language
        end if;
        v_what := case when v_what ~ 'language' then 'language' else coalesce(v_what, 'thing') end;
    end if;

    -- 4. Many-valued attributes: each object is a slot of its own.
    if v_family is null and strpos(v_lower, 'allerg') > 0 then
        v_match := regexp_match(v_text, '\m(?:allergic|allergy|allergies)\s+to\s+([^,;.!?]+)', 'i');
        if v_match is null then
            v_match := regexp_match(v_text, '\m(?:an?\s+)?([a-z]+(?:\s+[a-z]+)?)\s+allerg(?:y|ies)\M', 'i');
        end if;
        if v_match is not null then
            v_family := 'allergies';
            v_value := v_match[1];
        end if;
    end if;
    if v_family is null and v_runs && array['speak', 'speaks', 'fluent', 'native', 'mother', 'picked'] then
        v_match := regexp_match(v_text, '\m(?:speak|speaks|fluent\s+in|native\s+language\s+is|mother\s+tongue\s+is|picked\s+up)\s+'
                                        '(?:some\s+|a\s+little\s+|basic\s+|fluent\s+|a\s+bit\s+of\s+)?([A-Z][a-z]+)');
        if v_match is not null and exists (select from _pymem.recognize(v_match[1]) r where r.entity_type = 'Language') then
            v_family := 'languages';
            v_value := v_match[1];
        end if;
    end if;
    if v_family is null and v_runs && array['have', 'has', 'had', 'got', 'adopted', 'own', 'owns', 'pet', 'pets', 'rescued',
                                            'bought'] then
        select lower(r.entity_name) into v_value from _pymem.recognize_spans(v_text, true) r
        where r.entity_type = 'Animal' order by r.word_index limit 1;
        if v_value is not null then
            v_family := 'pets';
        end if;
    end if;
    if v_family is null then
        -- likes and dislikes: "I love X", "I can't stand X", "I'm crazy about X"
        v_match := case when v_runs && array['love', 'like', 'enjoy', 'adore', 'hate', 'dislike', 'detest', 'loathe',
                                             'stand', 'eat'] then regexp_match(v_text, '\m(?:[Ii]|[Ww]e)\s+(?:really\s+|absolutely\s+|also\s+|just\s+|kind\s+of\s+|still\s+)?'
                                        '(love|like|enjoy|adore|hate|dislike|detest|loathe|can''t\s+stand|cannot\s+stand|'
                                        'don''t\s+like|do\s+not\s+like|don''t\s+enjoy|could\s+eat)\s+([^,;.!?]+)') end;
        if v_match is null and v_runs && array['crazy', 'obsessed', 'into', 'fan', 'fond', 'keen'] then
            v_match := regexp_match(v_text, '\m(?:[Ii]''m|[Ii]\s+am)\s+(?:also\s+|really\s+|still\s+)?(crazy\s+about|obsessed\s+with|'
                                            'into|a\s+fan\s+of|a\s+big\s+fan\s+of|fond\s+of|keen\s+on|not\s+a\s+fan\s+of)\s+([^,;.!?]+)');
        end if;
        if v_match is not null and v_match[2] !~* '^(?:to|it|that|this|them|him|her|you|when|how|the idea|working|being|having)\M' then
            v_family := 'likes';
            v_verb := case when v_match[1] ~* '^(?:hate|dislike|detest|loathe|can''t|cannot|don''t|do\s+not|not\s+a)'
                           then 'dislikes' else 'likes' end;
            v_value := v_match[2];
        end if;
    end if;

    -- 5. Nothing from the vocabulary: a slot of its own, from the verb and its object
    -- ("I prefer window seats" -> prefers:window_seats), never one shared with other statements.
    if v_family is null then
        v_match := null;
        if v_leading[1] in ('i', 'we') then  -- the three readings that start with I or we
            v_match := regexp_match(v_text, '^(?:[Ii]|[Ww]e)\s+(?:(?:really|also|usually|always|mostly|mainly|now|still|currently|'
                                            'just|often|sometimes|normally|generally|typically)\s+)*'
                                            '(prefer|use|drink|play|have|own|pay\s+for|do|eat|ride|drive|run|watch|read|wear|take|'
                                            'go|visit|collect|practice|practise|study|support|follow|volunteer|need|keep|write|'
                                            'code|build|make|cook|bake|train|listen\s+to|subscribe\s+to|belong\s+to|attend)\s+([^,;.!?]+)');
            if v_match is null then
                v_match := regexp_match(v_text, '^(?:[Ii]''m|[Ii]\s+am|[Ii]''ve\s+been|[Ii]\s+have\s+been|[Ww]e''ve\s+got|[Ii]''ve\s+got|[Ww]e''re)\s+()([^,;.!?]+)');
            end if;
            if v_match is null then
                v_match := regexp_match(v_text, '^(?:[Ii]|[Ww]e)\s+(?:no\s+longer|don''t|do\s+not|stopped|quit|gave\s+up|cancell?ed|sold|'
                                                'never|gave|got\s+rid\s+of|haven''t|have\s+not|hasn''t)\s+(?:up\s+)?'
                                                '(?:(using|drinking|playing|being|eating|having|played|used|drunk|eaten|had|owned|'
                                                'ridden|driven|worn|been|done|gone|'
                                                'owning|riding|driving|doing|going|paying\s+for|use|drink|play|be|eat|have|own|'
                                                'ride|drive|do|go|pay\s+for)\s+)?([^,;.!?]+)');
            end if;
        end if;
        if v_match is null and v_polarity = 'cessation' then
            -- "I let my gym membership lapse", "My Netflix subscription ran out": what ended
            v_match := regexp_match(v_text, '\m(?:[Mm]y|[Oo]ur|[Tt]he)\s+([\w-]+(?:\s+(?!(?:lapse|lapsed|expire|expired|go|'
                                            'anymore|any|run|ran|ended|out|for|at|in|on|with|last|this|is|was)\M)[\w-]+){0,2})');
            if v_match is not null then
                v_match := array['', v_match[1]];
            end if;
        end if;
        if v_match is not null then
            v_verb := regexp_replace(lower(coalesce(nullif(v_match[1], ''), 'is')), '\s+', '_', 'g');
            v_verb := case when v_verb in ('be', 'being') then 'is'
                           when v_verb ~ 'ing$' then regexp_replace(v_verb, 'ing$', '')
                           else v_verb end;
            v_verb := case v_verb when 'us' then 'use' when 'hav' then 'have' when 'driv' then 'drive' when 'rid' then 'ride'
                                  when 'own' then 'own' else v_verb end;
            v_object := _pymem.clean_value(regexp_replace(v_match[2],
                '\s+(?:every|each|on|at|in|with|for|since|when|while|because|during|at home|too|as well|after|'
                'before|due|so|and|but|until|anymore|any more)\M.*$', '', 'i'));
        end if;
    end if;

    v_value := _pymem.clean_value(v_value);
    v_old := _pymem.clean_value(v_old);
    if v_family in ('allergies', 'pets', 'languages', 'likes') and v_value is not null then
        v_value := regexp_replace(v_value, '\s+(?:every|each|on|at|in|with|for|since|when|too|as well|at home)\M.*$', '', 'i');
        v_surface := v_value;  -- as the user said it, for the memory's content
        -- the gazetteer's name when the whole value is a term it knows ("peanuts" -> Peanut)
        v_value := coalesce((select case when v_family = 'pets' then lower(r.entity_name) else r.entity_name end
                             from _pymem.recognize_spans(v_value, true) r
                             where r.words = coalesce(array_length(array_remove(regexp_split_to_array(lower(v_value), '[^a-z0-9+#/]+'), ''), 1), 0)
                             limit 1), v_value);
    end if;
    -- A cessation names what stops: the value it found is the old one ("I no longer use Vim");
    -- one that names a new value too is an update ("I no longer work at X, I joined Y").
    if v_polarity = 'cessation' then
        if v_value is not null and v_old is not null then
            v_polarity := 'positive';
        elsif v_family is not null and v_family not in ('likes') then
            v_old := coalesce(v_old, v_value);
            v_value := null;
        end if;
    end if;
    -- A cessation whose words do not end exactly what it names is read as no slot at all:
    -- it neither closes anything nor states a fact (precision before eagerness).
    if v_polarity = 'cessation'
       and not _pymem.cessation_names(v_text, coalesce(v_old, v_object, v_surface, v_value)) then
        v_family := null;
        v_object := null;
        v_value := null;
        v_old := null;
        v_verb := null;
    end if;
    -- A single value the words do not place is never written as if it held (precision before
    -- eagerness; the raw turn keeps what was said, and retrieval orders it by time):
    -- "My Motorola died, so I'm on a Nokia now" names two and marks neither as the old one;
    -- "An espresso tonic, not a cappuccino, is what I order now" marks one as old and names
    -- no new one the vocabulary knows. Either was once written as the old value.
    if v_polarity = 'positive' and v_family is not null
       and exists (select from _pymem.attributes a where a.attribute = v_family and a.cardinality = 'one')
       and ((v_two_new and v_old is null) or (v_value is null and v_old is not null)) then
        v_family := null;
        v_value := null;
        v_old := null;
    end if;
    if v_family is not null and v_value is null and v_old is null then
        v_family := null;  -- the attribute is named, but no value: nothing to set
    end if;

    if v_family is not null then
        select * into v_attr from _pymem.attributes a where a.attribute = v_family;
        v_kind := v_attr.kind;
        v_attribute := case when v_attr.cardinality = 'many' then v_family || ':' || _pymem.slug(coalesce(v_value, v_old))
                            when v_family = 'favorite' then 'favorite:' || _pymem.slug(v_what)
                            else v_family end;
        v_content := replace(replace(v_attr.template, '{value}',
                             case when v_family = 'likes' then v_verb || ' ' || coalesce(v_surface, v_value)
                                  when v_family in ('allergies', 'languages') then coalesce(v_surface, v_value)
                                  else coalesce(v_value, v_old) end),
                             '{what}', coalesce(v_what, ''));
    elsif v_object is not null then
        v_kind := case when v_verb in ('prefer') then 'preference' else 'fact' end;
        v_attribute := v_verb || ':' || _pymem.slug(v_object);
    end if;
    if v_polarity = 'cessation' and v_family is not null and v_value is null then
        v_content := 'No longer true: ' || replace(replace(v_attr.template, '{value}', v_old), '{what}', coalesce(v_what, ''));
    elsif v_subject <> 'user' or v_family is null or v_polarity = 'cessation' or v_modality <> 'assertion' then
        v_content := _pymem.third_person(v_text);
    end if;

    return jsonb_strip_nulls(jsonb_build_object(
        'memorable', v_modality in ('assertion', 'plan') and v_attribute is not null,
        'statement', v_text,
        'subject', v_subject,
        'modality', v_modality,
        'polarity', v_polarity,
        'update_cue', v_cue,
        'family', v_family,
        'cardinality', case when v_family is not null then v_attr.cardinality when v_object is not null then 'own' end,
        'attribute', case when v_modality = 'assertion' then v_attribute end,
        'value', case when v_family = 'likes' then v_verb when v_family is not null then v_value else v_object end,
        'object', case when v_attr.cardinality = 'many' then coalesce(v_value, v_old) when v_family is null then v_object end,
        'old_value', v_old,
        'kind', coalesce(v_kind, 'fact'),
        'content', v_content,
        'entities', v_entities));
end
$$;
comment on function pymem.analyze_statement(text, text, boolean) is
    'What one sentence asserts, as every writer''s slot logic reads it: subject, attribute and value '
    '(from typed entities first, then the verb), cardinality (one, many, or a slot of its own), polarity '
    '(cessation), modality (question, hypothetical, plan), update cue, kind and content. Anyone may call.';

-- The clauses of a message: sentences, then the halves of "X; Y" and "not X - Y please".
-- Clauses longer than 600 characters are no statements this reads, and are skipped
-- (the analysis stays linear in the message: each clause is read once).
create or replace function _pymem.clauses(p_text text)
    returns table (clause text, n integer)
    language sql immutable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$
    select btrim(c), (row_number() over ())::int
    from regexp_split_to_table(left(coalesce(p_text, ''), 100000),
                               '(?:(?<=[.!?])\s+|\n+|;\s*|\s+[-–—]+\s+)') c
    where length(btrim(c)) between 2 and 600
$$;

-- The graph relation an attribute states (User -[predicate]-> value).
create or replace function _pymem.relation_of(p_family text, p_value text) returns text
    language sql immutable security invoker parallel safe
    set search_path = pg_catalog, pg_temp
as $$
    select case p_family
        when 'allergies' then 'ALLERGIC_TO' when 'likes' then case when p_value = 'dislikes' then 'DISLIKES' else 'LIKES' end
        when 'pets' then 'HAS_PET' when 'languages' then 'SPEAKS' when 'home_city' then 'LIVES_IN'
        when 'employer' then 'WORKS_AT' when 'job_title' then 'HAS_OCCUPATION' when 'name' then 'HAS_NAME'
        when 'time_zone' then 'HAS_TIMEZONE' when 'diet' then 'FOLLOWS_DIET' when 'conditions' then 'HAS_CONDITION'
        when 'display_theme' then 'PREFERS' when 'seat' then 'PREFERS' when 'response_style' then 'PREFERS'
        when 'notification_channel' then 'PREFERS' when 'units' then 'PREFERS' when 'coffee_order' then 'PREFERS'
        when 'favorite' then 'PREFERS' when 'code_editor' then 'USES' when 'operating_system' then 'USES'
        when 'phone' then 'USES' when 'commute' then 'COMMUTES' when 'pronouns' then 'HAS_PRONOUNS'
    end
$$;

-- The offline extractor: the memories a conversation's user turns state. One candidate per
-- clause that asserts something durable about someone (analyze_statement says which), plus
-- standing instructions ("always answer in French") and dated events ("my dentist
-- appointment is on 3 December"). Each candidate carries its analysis, so the write path
-- does not read the sentence twice. Questions, hypotheticals and small talk give nothing.
create or replace function _pymem.extract(p_messages jsonb, p_user_id text) returns jsonb
    language plpgsql stable security invoker parallel safe
    set search_path = pg_catalog, @extensions@, pg_temp
as $$
declare
    v_out      jsonb := '[]';
    v_message  record;
    v_clause   record;
    v_a        jsonb;
    v_kind     text;
    v_content  text;
    v_value    text;
    v_type     text;
    v_relations jsonb;
    v_all      jsonb;
    v_text     text;
    v_runs     text[];
    -- Reading costs ~20 ms per 1,000 characters (a clause at a time). What people say
    -- about themselves fits well within these; the rest of a long turn (a pasted document)
    -- is stored and searchable as the turn, not read for memories. A 1 MiB episode would
    -- otherwise hold a worker and a core for half a minute.
    v_turn_chars    constant integer := 8000;
    v_episode_chars integer := 32000;
begin
    if jsonb_typeof(p_messages) is distinct from 'array' then
        return v_out;
    end if;
    for v_message in
        select m.value as message, (m.ordinality - 1)::int as turn
        from jsonb_array_elements(p_messages) with ordinality m
        where m.value->>'role' = 'user' and jsonb_typeof(m.value->'content') = 'string'
    loop
        exit when v_episode_chars <= 0;
        v_text := left(v_message.message->>'content', least(v_turn_chars, v_episode_chars));
        if length(v_text) < length(v_message.message->>'content') then  -- cut at the last sentence end
            v_text := coalesce(substring(v_text from '^(.*[.!?\n])'), v_text);
        end if;
        v_episode_chars := v_episode_chars - length(v_text);
        -- Each clause is read once; the readings of the whole message are at hand.
        -- A clause that only points back ("it's my favourite now") is read with the one before.
        select coalesce(jsonb_agg(pymem.analyze_statement(c.text, p_user_id, true) || jsonb_build_object('n', c.n, 'said', c.text)
                                  order by c.n), '[]')
          into v_all
          from (select k.n, case when k.clause ~* '^(?:it|that|this)(?:''s|\s+is|\s+was)\M' and k.previous is not null
                                 then k.previous || ', ' || k.clause else k.clause end as text
                from (select c.clause, c.n, lag(c.clause) over (order by c.n) as previous
                      from _pymem.clauses(v_text) c) k) c;
        for v_clause in select (x->>'n')::int as n, x->>'said' as said, x - 'n' - 'said' as analysis
                        from jsonb_array_elements(v_all) x loop
            v_a := v_clause.analysis;
            v_kind := null;
            v_runs := _pymem.word_runs(v_a->>'statement');
            if v_a->>'modality' in ('assertion', 'plan')
                  and v_runs && array['i', 'i''m', 'i''ve', 'i''ll', 'my', 'we', 'we''re', 'our']
                  and v_runs && array['appointment', 'meeting', 'interview', 'flight', 'trip', 'vacation', 'holiday',
                                      'birthday', 'wedding', 'conference', 'party', 'exam', 'deadline', 'concert', 'surgery',
                                      'visit', 'dinner', 'lunch', 'launch', 'class', 'game', 'match', 'race', 'marathon',
                                      'presentation', 'date']
                  and v_a->>'statement' ~* ('\m(?:\d{4}-\d{2}-\d{2}|\d{1,2}(?:st|nd|rd|th)?\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|'
                                          'nov|dec)[a-z]*|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\s+\d{1,2}|'
                                          '(?:next|this)\s+(?:week|month|year|monday|tuesday|wednesday|thursday|friday|saturday|'
                                          'sunday|weekend)|monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|'
                                          'tonight|today)\M') then
                v_kind := 'event';
                v_content := _pymem.third_person(v_a->>'statement');
            elsif (v_a->>'memorable')::boolean or (v_a->>'polarity' = 'cessation' and v_a->>'modality' = 'assertion'
                                                 and (v_a ? 'attribute' or v_a ? 'object')) then
                v_kind := v_a->>'kind';
                v_content := v_a->>'content';
            elsif v_a->>'modality' = 'assertion'
                  and v_runs && array['always', 'never', 'please always', 'please never', 'please don''t', 'please do not',
                                      'from now on', 'remember to', 'make sure to', 'don''t ever', 'do not ever']
                  -- An instruction says it in the imperative; "I've never been fishing" and "Never
                  -- give up!" are no instructions (they replaced each other in the LoCoMo audit).
                  and lower(v_a->>'statement') ~ '^(?:please|always|never|don''t|do not|from now on|remember to|make sure|going forward)\M'
                  and lower(v_a->>'statement') !~ ('^(?:please\s+)?(?:never|always|don''t|do not)\s+(?:ever\s+)?(?:been|had|was|were|'
                                                   'give up|gave up|quit|stop|thought|knew|felt|imagined|expected|forget)\M') then
                v_kind := 'procedural';
                v_content := 'Instruction from user: ' || btrim(v_a->>'statement', ' .!');
            elsif v_a->>'modality' = 'assertion' and v_a->>'polarity' = 'positive'
                  and _pymem.says(v_clause.said, 'correction') then
                -- A clause that corrects or replaces a value ("Update: the demo moved to 11:30",
                -- "The ACTUAL value is: 5 engineers", "Make that $150,000") is kept on its own:
                -- the turn may also name the value it replaces, and retrieval can put only a
                -- memory that states the new value alone above the old one (017_cues.sql). It
                -- closes nothing (kept_for): the read-time rule orders it, a wrong guess here
                -- would lose a true memory.
                v_kind := 'fact';
                v_content := v_a->>'content';
                v_a := v_a || '{"kept_for": "correction"}';
            end if;
            continue when v_kind is null;
            -- "Not X anymore - Y please": the new value closes X anyway; the cessation would
            -- only repeat the old value.
            continue when v_a->>'polarity' = 'cessation' and v_a ? 'family'
                      and exists (select from jsonb_array_elements(v_all) o
                                  where (o->>'n')::int <> v_clause.n and o->>'family' = v_a->>'family'
                                    and o->>'polarity' = 'positive' and o->>'modality' = 'assertion');
            -- The graph relation: User -[predicate]-> the value, typed by the gazetteer when it knows it.
            v_relations := '[]';
            v_value := coalesce(v_a->>'object', case when v_a->>'family' = 'likes' then null else v_a->>'value' end);
            if v_kind not in ('procedural', 'event') and v_a->>'polarity' = 'positive' and v_a->>'subject' = 'user'
               and _pymem.relation_of(v_a->>'family', v_a->>'value') is not null and v_value is not null then
                select r.entity_type into v_type from _pymem.recognize(v_value) r limit 1;
                v_relations := jsonb_build_array(jsonb_build_object(
                    'predicate', _pymem.relation_of(v_a->>'family', v_a->>'value'), 'entity', v_value,
                    'type', coalesce(v_type, case v_a->>'family' when 'home_city' then 'Place' when 'employer' then 'Organization'
                                                              when 'job_title' then 'Occupation' when 'name' then 'Person'
                                                              when 'time_zone' then 'TimeZone' else 'Thing' end)));
            end if;
            -- "I mostly use VS Code and Python": every tool, language or system it uses.
            if v_kind in ('fact', 'preference') and v_a->>'polarity' = 'positive' and v_a->>'subject' = 'user'
               and v_runs && array['use', 'uses', 'using', 'code in', 'program in', 'write'] then
                v_relations := v_relations || coalesce((
                    select jsonb_agg(jsonb_build_object('predicate', 'USES', 'entity', e->>'name', 'type', e->>'type'))
                    from jsonb_array_elements(v_a->'entities') e
                    where e->>'type' in ('Editor', 'Tool', 'ProgrammingLanguage', 'OperatingSystem', 'Phone', 'Channel')
                      and not exists (select from jsonb_array_elements(v_relations) r where r->>'entity' = e->>'name')), '[]');
            end if;
            v_out := v_out || jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
                'kind', v_kind,
                'content', left(v_content, 2000),
                'subject', case when v_kind in ('fact', 'preference') then v_a->>'subject' end,
                'attribute', case when v_kind in ('fact', 'preference') then v_a->>'attribute' end,
                'value', case when v_kind in ('fact', 'preference') then v_a->>'value' end,
                'entities', v_a->'entities',
                'relations', v_relations,
                'importance', case when v_kind = 'procedural' then 0.8 when v_kind = 'event' then 0.7
                                   when v_a->>'family' in ('allergies', 'conditions') then 0.95
                                   when v_a->>'family' in ('name', 'diet', 'pronouns') then 0.8
                                   when v_a->>'modality' = 'plan' then 0.4
                                   when v_a->>'family' is not null then 0.7 else 0.5 end,
                'confidence', case when (v_a->>'update_cue')::boolean then 0.95 else 0.8 end,
                'source_turns', jsonb_build_array(coalesce(v_message.message->'id', to_jsonb(v_message.turn))),
                'statement', v_a - 'entities' - 'content')));
        end loop;
    end loop;
    return v_out;
end
$$;
comment on function _pymem.extract(jsonb, text) is
    'The offline extractor: candidate memories ({kind, content, subject, attribute, value, entities, relations, '
    'importance, confidence, source_turns, statement}) stated by the user turns of a conversation. Internal: '
    'the worker calls it for episodes it claimed.';
