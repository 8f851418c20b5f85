-- A device-associated infection rate (NHSN): infections attributed to each unit per month,
-- and the unit's device days, per patient (for the equity strata; the unit's figures are
-- their sums).
--   Device days, counted as patient days are (the midnight census, tables/census.sql): a patient
--   counts one device day on a unit for each midnight they are there with at least one
--   device of the kind in place (several lines at once are one line day).
--   Infections: confirmed NHSN events of the kind ({event}), by date of event. The location
--   of attribution is where the patient was at the start of the day before the date of
--   event: that is the NHSN transfer rule (an event on the day of transfer or discharge, or
--   the next day, belongs to the transferring or discharging unit; after several transfers,
--   to the first unit of the day before), and an event with no such midnight in hospital
--   (present on admission: date of event before day 3) is counted against no unit.
-- {devices}: the device type codings, as SQL (`(system, code)` tests on the device view);
-- {zone}: the hospital's IANA time zone; {as_of}: the end of stays and devices still open.
WITH kind AS (
  SELECT DISTINCT device FROM device WHERE {devices}
),
in_place AS (
  SELECT u.patient,
         to_local_time(arrow_cast(arrow_cast(to_timestamp(u.placed), 'Timestamp(Nanosecond, Some("UTC"))'), 'Timestamp(Nanosecond, Some("{zone}"))')) AS placed,
         to_local_time(arrow_cast(arrow_cast(to_timestamp(COALESCE(u.removed, '{as_of}')), 'Timestamp(Nanosecond, Some("UTC"))'), 'Timestamp(Nanosecond, Some("{zone}"))')) AS removed
  FROM device_use u JOIN kind k ON k.device = u.device
  WHERE u.placed IS NOT NULL AND u.patient IS NOT NULL
),
device_day AS (
  SELECT DISTINCT m.unit, m.patient, m.day
  FROM census m JOIN in_place d ON d.patient = m.patient
  WHERE d.placed <= m.day AND m.day < d.removed
),
days AS (
  SELECT unit, patient, to_char(day, '%Y-%m') AS month, count(*) AS device_days
  FROM device_day
  GROUP BY 1, 2, 3
),
event AS (
  -- A date of event given as a date is the hospital's date; an instant is put in hospital time.
  SELECT patient,
         CASE WHEN length(date_of_event) = 10 THEN to_timestamp(date_of_event)
              ELSE date_trunc('day', to_local_time(arrow_cast(arrow_cast(to_timestamp(date_of_event), 'Timestamp(Nanosecond, Some("UTC"))'), 'Timestamp(Nanosecond, Some("{zone}"))')))
         END AS day
  FROM hai
  WHERE event = '{event}' AND date_of_event IS NOT NULL AND patient IS NOT NULL
),
infection AS (
  SELECT m.unit, e.patient, to_char(e.day, '%Y-%m') AS month, count(*) AS infections
  FROM event e JOIN census m ON m.patient = e.patient AND m.day = e.day - INTERVAL '1 day'
  GROUP BY 1, 2, 3
)
SELECT COALESCE(d.unit, i.unit) AS unit,
       COALESCE(d.month, i.month) AS month,
       COALESCE(d.patient, i.patient) AS patient,
       COALESCE(i.infections, 0) AS numerator,
       COALESCE(d.device_days, 0) AS denominator
FROM days d FULL OUTER JOIN infection i
  ON i.unit = d.unit AND i.month = d.month AND i.patient = d.patient
ORDER BY 1, 2, 3
