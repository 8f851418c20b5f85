-- A point-prevalence measure: of the patients surveyed on each unit in the month (the
-- unit they were on when surveyed, from the encounter's location history), those with the
-- finding. {finding}: the survey column (empty when the finding was not made: that patient
-- is not counted); {positive}: when the finding counts. {zone}: the hospital's IANA time
-- zone (the survey's month is the hospital's); {as_of}: the end of stays still open.
WITH stay AS (
  SELECT unit, patient,
         to_timestamp(arrived) AS arrived,
         to_timestamp(COALESCE("left", '{as_of}')) AS left_at
  FROM inpatient_stay
  WHERE unit IS NOT NULL AND arrived IS NOT NULL
),
survey AS (
  SELECT patient, to_timestamp(surveyed) AS at, {finding} AS finding
  FROM prevalence_survey
  WHERE surveyed IS NOT NULL AND patient IS NOT NULL AND {finding} IS NOT NULL
)
SELECT s.unit,
       to_char(to_local_time(arrow_cast(arrow_cast(v.at, 'Timestamp(Nanosecond, Some("UTC"))'), 'Timestamp(Nanosecond, Some("{zone}"))')), '%Y-%m') AS month,
       v.patient,
       sum(CASE WHEN {positive} THEN 1 ELSE 0 END) AS numerator,
       count(*) AS denominator
FROM survey v
JOIN stay s ON s.patient = v.patient AND s.arrived <= v.at AND v.at < s.left_at
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
