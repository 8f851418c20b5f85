//! The directory: HSDS read (`test_data/hsds/`), searched (`test_data/search.json`,
//! `test_data/distances.tsv`), written as FHIR and read back.

use chrono::{NaiveTime, Weekday};
use community::directory::fhir::fhir_id;
use community::{distance_miles, CapacityStatus, Directory, Error, Query, Service};
use serde_json::{json, Value};

use crate::{expect, shape};

fn sample() -> Directory {
    Directory::from_hsds(&expect::read("hsds/services.json")).expect("the sample reads")
}

fn summary(s: &Service) -> Value {
    let o = &s.organization;
    json!({
        "id": s.id,
        "fhir_id": fhir_id(&s.id),
        "name": s.name,
        "organization": [o.id, o.name, o.phone, o.website],
        "needs": s.needs,
        "terms": s.terms.iter().map(|t| json!([t.taxonomy, t.code, t.name])).collect::<Vec<_>>(),
        "languages": s.languages,
        "eligibility": s.eligibility,
        "hours": s.hours.open.iter().map(|h| format!("{} {}-{}", h.day, h.opens.format("%H:%M"), h.closes.format("%H:%M"))).collect::<Vec<_>>(),
        "hours_notes": s.hours.notes,
        "locations": s.locations.iter().map(|l| json!([
            l.id,
            l.name,
            l.address.as_ref().map(|a| json!([a.lines, a.city, a.state, a.postal_code])),
            l.position.map(|p| json!([p.latitude, p.longitude])),
        ])).collect::<Vec<_>>(),
        "capacity": [format!("{:?}", s.capacity.status), s.capacity.note],
        "contacts": s.contacts.iter().map(|c| json!([c.system.code(), c.value])).collect::<Vec<_>>(),
        "referral": s.referral.iter().map(|m| m.words()).collect::<Vec<_>>(),
    })
}

#[test]
fn the_sample_directory_reads_as_expected() {
    let d = sample();
    // s7 is defunct.
    assert_eq!(d.services.len(), 6);
    assert!(d.service("s7").is_none());
    let all: Vec<Value> = d.services.iter().map(summary).collect();
    expect::file("hsds/services.expected.json", &json!(all));
}

#[test]
fn the_tabular_form_links_records_by_id() {
    let d = Directory::from_hsds(&expect::read("hsds/tables.json")).unwrap();
    let meals = d.service("t1").unwrap();
    assert_eq!(meals.organization.name, "Greater Boston Food Network");
    assert_eq!(meals.needs, ["food-insecurity"]);
    assert_eq!(meals.languages, ["pt"]);
    assert_eq!(meals.locations.len(), 1);
    assert_eq!(meals.locations[0].position.unwrap().latitude, 42.3097);
    assert_eq!(meals.hours.open.len(), 1);
    assert_eq!(meals.hours.open[0].day, Weekday::Sat);
    assert!(meals
        .hours
        .is_open(Weekday::Sat, NaiveTime::from_hms_opt(12, 0, 0).unwrap()));
    assert!(!meals
        .hours
        .is_open(Weekday::Sat, NaiveTime::from_hms_opt(13, 30, 0).unwrap()));
    let bus = d.service("t2").unwrap();
    // BT-4500 is read by the 211 rule for BT; the attribute on the location is not the service's.
    assert_eq!(bus.needs, ["transportation-insecurity"]);
    assert_eq!(bus.terms.len(), 1);
    assert!(bus.locations.is_empty());
    // No service phone: referrals go by the organisation's phone only when it has one.
    assert!(bus.referral.is_empty());
}

#[test]
fn every_bad_directory_gets_its_error() {
    let file = expect::json("hsds/errors.json");
    for c in file["cases"].as_array().unwrap() {
        let what = c["what"].as_str().unwrap();
        let text = match &c["hsds"] {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        let e = Directory::from_hsds(&text).expect_err(what).to_string();
        assert_eq!(e, c["error"].as_str().unwrap(), "{what}");
    }
}

#[test]
fn the_input_is_bounded() {
    let long = "é".repeat(community::MAX_TEXT + 1);
    let doc = json!([{"id": "s1", "name": "A", "organization": {"id": "o", "name": "O"},
        "service_at_locations": [{"location": {"id": "l", "addresses": [{"city": long}]}}]}]);
    let e = Directory::from_hsds(&doc.to_string()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "service \"s1\": service_at_locations[0].location.addresses[0].city is longer than 10000 characters"
    );
    // Exactly the limit is read.
    let fits = "é".repeat(community::MAX_TEXT);
    let doc = json!([{"id": "s1", "name": "A", "description": fits, "organization": {"id": "o", "name": "O"}}]);
    assert!(Directory::from_hsds(&doc.to_string()).is_ok());

    let many = format!("[{}{{}}]", "{},".repeat(community::directory::MAX_SERVICES));
    assert_eq!(
        Directory::from_hsds(&many),
        Err(Error::TooManyServices(
            community::directory::MAX_SERVICES + 1
        ))
    );
}

#[test]
fn distances_are_great_circle_miles() {
    let text = expect::read("distances.tsv");
    let mut n = 0;
    for line in text.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let num = |i: usize| f[i].parse::<f64>().unwrap();
        let got = distance_miles((num(1), num(2)), (num(3), num(4)));
        assert!(
            (got - num(5)).abs() < 0.005,
            "{}: {got} miles, not {}",
            f[0],
            f[5]
        );
        let back = distance_miles((num(3), num(4)), (num(1), num(2)));
        assert!((got - back).abs() < 1e-9, "{}: not symmetric", f[0]);
        n += 1;
    }
    assert_eq!(n, 10);
}

fn query(q: &Value) -> Query {
    let day = |d: &str| d.parse::<Weekday>().unwrap();
    Query {
        need: q["need"].as_str().map(str::to_string),
        language: q["language"].as_str().map(str::to_string),
        near: q["near"]
            .as_array()
            .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap())),
        within_miles: q["within_miles"].as_f64(),
        text: q["text"].as_str().map(str::to_string),
        open_at: q["open_at"].as_array().map(|p| {
            (
                day(p[0].as_str().unwrap()),
                NaiveTime::parse_from_str(p[1].as_str().unwrap(), "%H:%M").unwrap(),
            )
        }),
    }
}

#[test]
fn searches_find_what_their_file_says() {
    let d = sample();
    let file = expect::json("search.json");
    let actual: Vec<Value> = file["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            json!(d
                .search(&query(&c["query"]))
                .iter()
                .map(|m| json!([
                    m.service.id,
                    m.distance_miles.map(|x| (x * 10.0).round() / 10.0),
                    m.reasons,
                    m.cautions,
                ]))
                .collect::<Vec<_>>())
        })
        .collect();
    expect::cases("search.json", actual);
}

#[test]
fn search_ranks_need_then_language_then_capacity_then_distance() {
    let d = sample();
    let near = Some((42.3603, -71.0580));
    // Without a need or language, capacity comes first: the full transport service is last
    // although it has no distance to lose on.
    let all = d.search(&Query {
        near,
        ..Query::default()
    });
    let statuses: Vec<CapacityStatus> = all.iter().map(|m| m.service.capacity.status).collect();
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(statuses, sorted);
    // Among the open ones, nearest first, then those without a distance.
    let open: Vec<Option<f64>> = all
        .iter()
        .filter(|m| m.service.capacity.status == CapacityStatus::Open)
        .map(|m| m.distance_miles)
        .collect();
    let known: Vec<f64> = open.iter().map_while(|d| *d).collect();
    assert!(known.windows(2).all(|w| w[0] <= w[1]), "{open:?}");
    assert!(open[known.len()..].iter().all(Option::is_none), "{open:?}");
    // The need outranks everything: a full service for it before an open one without it.
    let rides = d.search(&Query {
        need: Some("transportation-insecurity".into()),
        ..Query::default()
    });
    assert_eq!(rides[0].service.id, "s3");
    assert_eq!(rides[0].service.capacity.status, CapacityStatus::Full);
    // The language outranks capacity: the full service whose staff speak Vietnamese first.
    let vietnamese = d.search(&Query {
        language: Some("vi".into()),
        ..Query::default()
    });
    assert_eq!(vietnamese[0].service.id, "s3");
    assert_eq!(vietnamese[0].reasons, ["Vietnamese spoken"]);
}

#[test]
fn the_directory_as_fhir_is_valid_and_reads_back() {
    let d = sample();
    let resources = d.resources();
    for r in &resources {
        shape::check(r);
    }
    let count = |t: &str| resources.iter().filter(|r| r["resourceType"] == t).count();
    // o2 offers two services; s6 has two locations; s3 is by phone; l3 is virtual.
    assert_eq!(count("Organization"), 5);
    assert_eq!(count("Location"), 6);
    assert_eq!(count("HealthcareService"), 6);
    let ids = |t: &str| -> Vec<String> {
        resources
            .iter()
            .filter(|r| r["resourceType"] == t)
            .map(|r| format!("{t}/{}", r["id"].as_str().unwrap()))
            .collect()
    };
    let (orgs, locs) = (ids("Organization"), ids("Location"));
    for hs in resources
        .iter()
        .filter(|r| r["resourceType"] == "HealthcareService")
    {
        assert!(orgs.contains(&hs["providedBy"]["reference"].as_str().unwrap().to_string()));
        for l in hs["location"].as_array().into_iter().flatten() {
            assert!(locs.contains(&l["reference"].as_str().unwrap().to_string()));
        }
    }
    let s5 = resources
        .iter()
        .find(|r| r["identifier"][0]["value"] == "hsds/service/5 (safe haven)")
        .unwrap();
    assert!(s5["id"].as_str().unwrap().starts_with("cbo-x-"));
    let s1 = resources.iter().find(|r| r["id"] == "cbo-s1").unwrap();
    assert_eq!(
        s1["extension"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"],
        "no-capacity-has-waitlist"
    );
    assert_eq!(s1["communication"][1]["coding"][0]["code"], "es");
    assert_eq!(
        s1["communication"][1]["coding"][0]["system"],
        "urn:ietf:bcp:47"
    );
    assert_eq!(
        s1["availableTime"][0],
        json!({"daysOfWeek": ["mon", "wed", "fri"], "availableStartTime": "09:00:00", "availableEndTime": "17:00:00"})
    );

    // Open at all hours: allDay.
    assert_eq!(
        s5["availableTime"],
        json!([{"daysOfWeek": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "allDay": true}])
    );

    assert_eq!(Directory::from_resources(&resources), d);
    // Resources of other types are ignored; a missing Organization keeps its reference's name.
    let mut some: Vec<Value> = resources
        .iter()
        .filter(|r| r["resourceType"] != "Organization")
        .cloned()
        .collect();
    some.push(json!({"resourceType": "Patient", "id": "p1"}));
    let back = Directory::from_resources(&some);
    assert_eq!(back.services.len(), 6);
    assert_eq!(
        back.services[0].organization.name,
        "Greater Boston Food Network"
    );
    assert_eq!(back.services[0].organization.id, "cbo-o1");
}
