-- The locks of a routing, then the reps of the teams (and the account owner) with what routing weighs:
-- load, rotation count, team calendar. Created by migration 0004; called by
-- lead.routing.repository.routing_reps. A change is a new file (v2) and a new migration.
CREATE FUNCTION lead.routing_reps(p_keys text[], p_team_ids uuid[], p_owner_id uuid)
RETURNS TABLE (
    id uuid, team_id uuid, active boolean, on_leave boolean, leave_until timestamptz, capacity integer,
    weight integer, skills jsonb, open_leads integer, served bigint, team_manager_id text, team_calendar jsonb
)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(p_keys) WITH ORDINALITY AS t(k, n) ORDER BY n;
    RETURN QUERY
        SELECT r.id, r.team_id, r.active, r.on_leave, r.leave_until, r.capacity, r.weight, r.skills,
               coalesce(o.open_leads, 0), c.served, t.manager_id, t.calendar
        FROM lead.reps r
        JOIN lead.teams t ON t.id = r.team_id
        LEFT JOIN lead.rep_open_leads o ON o.rep_id = r.id
        LEFT JOIN lead.rr_counts c ON c.rep_id = r.id AND c.team_id = r.team_id
        WHERE r.team_id = ANY(p_team_ids) OR r.id = p_owner_id
        ORDER BY r.id;
END
$$
