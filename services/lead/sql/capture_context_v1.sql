-- The locks of a capture, then the earliest duplicate lead (one query per shape, so each keeps its index),
-- the live rule version and the customer's account owner. Created by migration 0004; called by
-- lead.capture.repository.capture_context. A change is a new file (v2) and a new migration.
CREATE FUNCTION lead.capture_context(
    p_keys text[], p_phone text, p_email text, p_channel text, p_since timestamptz, p_customer_id text
) RETURNS TABLE (duplicate_id uuid, version integer, owner_id uuid)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(p_keys) WITH ORDINALITY AS t(k, n) ORDER BY n;
    IF p_phone <> '' AND p_email <> '' THEN
        duplicate_id := (SELECT l.id FROM lead.leads l
            WHERE (l.phone_e164 = p_phone OR l.email = p_email) AND l.channel = p_channel AND l.captured_at >= p_since
            ORDER BY l.captured_at LIMIT 1);
    ELSIF p_phone <> '' THEN
        duplicate_id := (SELECT l.id FROM lead.leads l
            WHERE l.phone_e164 = p_phone AND l.channel = p_channel AND l.captured_at >= p_since
            ORDER BY l.captured_at LIMIT 1);
    ELSIF p_email <> '' THEN
        duplicate_id := (SELECT l.id FROM lead.leads l
            WHERE l.email = p_email AND l.channel = p_channel AND l.captured_at >= p_since
            ORDER BY l.captured_at LIMIT 1);
    END IF;
    version := (SELECT coalesce(max(v.version), 0) FROM lead.rule_versions v);
    IF p_customer_id <> '' THEN
        owner_id := (SELECT l.assignee_id FROM lead.leads l
            WHERE l.customer_id = p_customer_id AND l.assignee_id IS NOT NULL
            ORDER BY l.assigned_at DESC LIMIT 1);
    END IF;
    RETURN NEXT;
END
$$
