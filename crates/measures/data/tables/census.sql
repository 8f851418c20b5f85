-- The midnight census, computed once a run for every measure counted in days: one row per
-- patient per midnight (hospital time) on a unit, from the first midnight at or after their
-- arrival to the last before they left (an open stay ends at {as_of}). Beds and rooms are
-- not units (the inpatient_stay view keeps wards only).
-- FHIR instants carry their offsets; to_timestamp gives UTC, marked as UTC before it is
-- shown in hospital time ({zone}), so midnights and months are the hospital's.
WITH stay AS (
  SELECT unit, patient,
         to_local_time(arrow_cast(arrow_cast(to_timestamp(arrived), 'Timestamp(Nanosecond, Some("UTC"))'), 'Timestamp(Nanosecond, Some("{zone}"))')) AS arrived,
         to_local_time(arrow_cast(arrow_cast(to_timestamp(COALESCE("left", '{as_of}')), 'Timestamp(Nanosecond, Some("UTC"))'), 'Timestamp(Nanosecond, Some("{zone}"))')) AS left_at
  FROM inpatient_stay
  WHERE unit IS NOT NULL AND arrived IS NOT NULL
)
SELECT unit, patient,
       unnest(generate_series(
         date_trunc('day', arrived - INTERVAL '1 microsecond') + INTERVAL '1 day',
         left_at - INTERVAL '1 microsecond',
         INTERVAL '1 day')) AS day
FROM stay
WHERE left_at > arrived
