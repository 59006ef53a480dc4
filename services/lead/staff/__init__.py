"""Staff: teams (managers, calendars, territories) and reps (capacity, weight, skills, leave)."""
