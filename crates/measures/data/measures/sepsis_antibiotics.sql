-- Suspected sepsis: the first antibiotic dose by its deadline, per unit (where the patient
-- was when the clock started), month started (hospital time) and patient.
-- {zone}: the hospital's IANA time zone; {as_of}: now (RFC 3339).
WITH clock AS (
  SELECT patient,
         to_timestamp(started) AS started_at,
         to_timestamp(deadline) AS deadline_at,
         to_timestamp(done) AS done_at
  FROM sepsis_action
  WHERE clock = 'antibiotics-within-hour'
    AND COALESCE(status, '') <> 'cancelled'
    AND patient IS NOT NULL AND started IS NOT NULL AND deadline IS NOT NULL
),
decided AS (
  SELECT * FROM clock
  -- Not given and not yet due: not decided.
  WHERE NOT (done_at IS NULL AND deadline_at > to_timestamp('{as_of}'))
),
placed AS (
  -- The unit whose care the patient was in when the clock started; none, if not on a ward.
  SELECT s.unit, d.patient, d.started_at, d.deadline_at, d.done_at
  FROM decided d
  JOIN inpatient_stay s
    ON s.patient = d.patient
   AND s.unit IS NOT NULL AND s.arrived IS NOT NULL
   AND to_timestamp(s.arrived) <= d.started_at
   AND (s."left" IS NULL OR to_timestamp(s."left") > d.started_at)
)
SELECT unit,
       to_char(to_local_time(arrow_cast(arrow_cast(started_at, 'Timestamp(Nanosecond, Some("UTC"))'), 'Timestamp(Nanosecond, Some("{zone}"))')), '%Y-%m') AS month,
       patient,
       -- The deadline is the first late moment.
       sum(CASE WHEN done_at IS NOT NULL AND done_at < deadline_at THEN 1 ELSE 0 END) AS numerator,
       count(*) AS denominator
FROM placed
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
