-- Patient falls on each unit per month, and the unit's patient days by the midnight census,
-- per patient (for the equity strata; the unit's figures are their sums).
-- Patient days from the midnight census (tables/census.sql). {zone}: the hospital's IANA
-- time zone (a fall's month is the hospital's).
WITH days AS (
  SELECT unit, patient, to_char(day, '%Y-%m') AS month, count(*) AS patient_days
  FROM census
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
