-- Keeps lead.rep_open_leads: a rep's open leads (held, not converted, status assigned/claimed/contacted).
-- Created by migration 0003; a change is a new file (v2) and a new migration.
CREATE FUNCTION lead.count_open_leads() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was_open boolean := false;
    is_open boolean := false;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        was_open := OLD.assignee_id IS NOT NULL AND OLD.converted_at IS NULL AND OLD.status IN ('assigned', 'claimed', 'contacted');
    END IF;
    IF TG_OP <> 'DELETE' THEN
        is_open := NEW.assignee_id IS NOT NULL AND NEW.converted_at IS NULL AND NEW.status IN ('assigned', 'claimed', 'contacted');
    END IF;
    IF was_open AND is_open AND OLD.assignee_id = NEW.assignee_id THEN
        RETURN NULL;
    END IF;
    IF was_open THEN
        UPDATE lead.rep_open_leads SET open_leads = open_leads - 1 WHERE rep_id = OLD.assignee_id;
    END IF;
    IF is_open THEN
        INSERT INTO lead.rep_open_leads AS c (rep_id, open_leads) VALUES (NEW.assignee_id, 1)
        ON CONFLICT (rep_id) DO UPDATE SET open_leads = c.open_leads + 1;
    END IF;
    RETURN NULL;
END
$$
