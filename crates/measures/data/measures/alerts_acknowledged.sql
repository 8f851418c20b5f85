-- Early-warning alerts acknowledged by their deadline, per unit, month raised (hospital
-- time) and patient. {zone}: the hospital's IANA time zone; {as_of}: now (RFC 3339).
WITH alert AS (
  SELECT unit, patient, status,
         to_timestamp(raised) AS raised_at,
         to_timestamp(deadline) AS deadline_at,
         to_timestamp(acknowledged) AS acknowledged_at
  FROM alert_task
  WHERE unit IS NOT NULL AND raised IS NOT NULL AND deadline IS NOT NULL
),
decided AS (
  SELECT * FROM alert
  -- Superseded before anyone acknowledged it: the higher alert carries the clock.
  WHERE NOT (COALESCE(status, '') = 'superseded' AND acknowledged_at IS NULL)
  -- Still open and not yet due: not decided.
    AND NOT (acknowledged_at IS NULL AND deadline_at > to_timestamp('{as_of}'))
)
SELECT unit,
       to_char(to_local_time(arrow_cast(arrow_cast(raised_at, 'Timestamp(Nanosecond, Some("UTC"))'), 'Timestamp(Nanosecond, Some("{zone}"))')), '%Y-%m') AS month,
       patient,
       sum(CASE WHEN acknowledged_at IS NOT NULL AND acknowledged_at <= deadline_at THEN 1 ELSE 0 END) AS numerator,
       count(*) AS denominator
FROM decided
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
