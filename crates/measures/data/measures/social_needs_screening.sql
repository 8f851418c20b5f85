-- Adult inpatient stays screened for all five health-related social needs during the stay
-- (the SDOH-1 definition), per discharge ward, discharge month (hospital time) and patient.
-- {zone}: the hospital's IANA time zone.
WITH stay AS (
  SELECT a.encounter, a.patient,
         to_timestamp(a.admitted) AS admitted_at,
         to_timestamp(a.discharged) AS discharged_at
  FROM admission a
  JOIN patient_birth b ON b.patient = a.patient
  WHERE a.patient IS NOT NULL AND a.admitted IS NOT NULL AND a.discharged IS NOT NULL
    AND b.birth_date IS NOT NULL
    -- 18 or older on the day of admission (as recorded). A date given to the year or month
    -- alone is taken as its first day.
    AND to_date(substr(b.birth_date || '-01-01', 1, 10)) + INTERVAL '18 years'
        <= to_date(substr(a.admitted || '-01-01', 1, 10))
),
last_ward AS (
  -- The ward the patient was discharged from: the last ward of the stay.
  SELECT encounter, unit FROM (
    SELECT encounter, unit,
           row_number() OVER (PARTITION BY encounter ORDER BY to_timestamp(arrived) DESC, unit) AS k
    FROM inpatient_stay
    WHERE unit IS NOT NULL AND arrived IS NOT NULL
  ) WHERE k = 1
),
domain AS (
  SELECT patient, to_timestamp(answered) AS answered_at,
         CASE
           WHEN question IN ('71802-3', '96778-6') THEN 'housing'
           WHEN question IN ('88122-7', '88123-5') THEN 'food'
           WHEN question = '93030-5' THEN 'transportation'
           WHEN question = '96779-4' THEN 'utilities'
           WHEN question IN ('95618-5', '95617-7', '95616-9', '95615-1') THEN 'safety'
         END AS need
  FROM social_screening_answer
  WHERE patient IS NOT NULL AND answered IS NOT NULL
),
screened AS (
  SELECT s.encounter, count(DISTINCT d.need) AS needs
  FROM stay s
  JOIN domain d
    ON d.patient = s.patient AND d.need IS NOT NULL
   AND d.answered_at >= s.admitted_at AND d.answered_at <= s.discharged_at
  GROUP BY s.encounter
)
SELECT w.unit,
       to_char(to_local_time(arrow_cast(arrow_cast(s.discharged_at, 'Timestamp(Nanosecond, Some("UTC"))'), 'Timestamp(Nanosecond, Some("{zone}"))')), '%Y-%m') AS month,
       s.patient,
       sum(CASE WHEN COALESCE(x.needs, 0) = 5 THEN 1 ELSE 0 END) AS numerator,
       count(*) AS denominator
FROM stay s
JOIN last_ward w ON w.encounter = s.encounter
LEFT JOIN screened x ON x.encounter = s.encounter
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
