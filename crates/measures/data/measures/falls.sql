-- Patient falls on each unit per month, and the unit's patient days by the midnight census,
-- per patient (for the equity strata; the unit's figures are their sums).
-- {zone}: the hospital's IANA time zone; {as_of}: the end of stays still open (RFC 3339).
-- FHIR instants carry their offsets; to_timestamp gives UTC, marked as UTC before it is
-- shown in hospital time, so midnights and months are the hospital's.
WITH stay AS (
  SELECT unit, patient,
         to_local_time(arrow_cast(arrow_cast(to_timestamp(arrived), 'Timestamp(Nanosecond, Some("UTC"))'), 'Timestamp(Nanosecond, Some("{zone}"))')) AS arrived,
         to_local_time(arrow_cast(arrow_cast(to_timestamp(COALESCE("left", '{as_of}')), 'Timestamp(Nanosecond, Some("UTC"))'), 'Timestamp(Nanosecond, Some("{zone}"))')) AS left_at
  FROM inpatient_stay
  WHERE unit IS NOT NULL AND arrived IS NOT NULL
),
midnight AS (
  -- Every midnight from the first at or after arrival to the last before leaving.
  SELECT unit, patient,
         unnest(generate_series(
           date_trunc('day', arrived - INTERVAL '1 microsecond') + INTERVAL '1 day',
           left_at - INTERVAL '1 microsecond',
           INTERVAL '1 day')) AS day
  FROM stay
  WHERE left_at > arrived
),
days AS (
  SELECT unit, patient, to_char(day, '%Y-%m') AS month, count(*) AS patient_days
  FROM midnight
  GROUP BY unit, patient, to_char(day, '%Y-%m')
),
fall AS (
  SELECT unit, patient,
         to_char(to_local_time(arrow_cast(arrow_cast(to_timestamp(occurred), 'Timestamp(Nanosecond, Some("UTC"))'), 'Timestamp(Nanosecond, Some("{zone}"))')), '%Y-%m') AS month,
         count(*) AS falls
  FROM safety_event
  WHERE category = 'fall' AND kind = 'incident' AND unit IS NOT NULL
    AND COALESCE(fall_off_unit, false) = false
    AND {injury}
  GROUP BY 1, 2, 3
)
-- A fall counts on its unit even when its patient has no midnight there that month (a
-- day case who fell before midnight): the unit's days come from its other patients.
SELECT COALESCE(d.unit, f.unit) AS unit,
       COALESCE(d.month, f.month) AS month,
       COALESCE(d.patient, f.patient) AS patient,
       COALESCE(f.falls, 0) AS numerator,
       COALESCE(d.patient_days, 0) AS denominator
FROM days d FULL OUTER JOIN fall f
  ON f.unit = d.unit AND f.month = d.month AND f.patient IS NOT DISTINCT FROM d.patient
ORDER BY 1, 2, 3
