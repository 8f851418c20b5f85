-- Vital-sign sets followed by the next complete set by the time it was due, per unit (where
-- the patient was when it fell due), month due (hospital time) and patient.
-- {zone}: the hospital's IANA time zone; {as_of}: now (RFC 3339); {grace_minutes}: minutes
-- after the due time a set still counts as on time (0: the due time the chart showed).
WITH complete AS (
  SELECT patient,
         to_timestamp(taken) AS taken_at,
         to_timestamp(due) AS due_at,
         monitoring
  FROM observation_set
  WHERE patient IS NOT NULL AND taken IS NOT NULL
    AND status <> 'preliminary'
),
followed AS (
  -- The next complete set of the same patient (sets are counted from complete sets only:
  -- the standard is a full set).
  SELECT patient, taken_at, due_at, monitoring,
         lead(taken_at) OVER (PARTITION BY patient ORDER BY taken_at) AS next_at
  FROM complete
),
due AS (
  SELECT * FROM followed
  WHERE due_at IS NOT NULL
    AND COALESCE(monitoring, '') <> 'continuous'
    -- Not yet due and nothing taken since: not decided.
    AND NOT (next_at IS NULL AND due_at > to_timestamp('{as_of}'))
),
placed AS (
  -- The unit whose care the patient was in when the set fell due; none, if they had left.
  SELECT s.unit, d.patient, d.due_at, d.next_at
  FROM due d
  JOIN inpatient_stay s
    ON s.patient = d.patient
   AND s.unit IS NOT NULL AND s.arrived IS NOT NULL
   AND to_timestamp(s.arrived) <= d.due_at
   AND (s."left" IS NULL OR to_timestamp(s."left") > d.due_at)
)
SELECT unit,
       to_char(to_local_time(arrow_cast(arrow_cast(due_at, 'Timestamp(Nanosecond, Some("UTC"))'), 'Timestamp(Nanosecond, Some("{zone}"))')), '%Y-%m') AS month,
       patient,
       sum(CASE WHEN next_at IS NOT NULL AND next_at <= due_at + INTERVAL '{grace_minutes} minutes' THEN 1 ELSE 0 END) AS numerator,
       count(*) AS denominator
FROM placed
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
