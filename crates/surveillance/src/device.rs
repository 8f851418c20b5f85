//! A central line or an indwelling urinary catheter in a patient: the Device (this
//! catheter, its type) and the DeviceUseStatement (in the patient from placement to
//! removal; no end while it is still in). Central-line and catheter days (NHSN) are
//! counted from these: a patient with at least one device of the kind in place at the
//! daily census counts one device day.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::{instant, reference, Error, DEVICE_SYSTEM, SNOMED};

/// The kinds of device the device-associated infection indicators count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// A central line (NHSN: an intravascular catheter ending at or close to the heart or
    /// in a great vessel, used for infusion, blood draws or monitoring).
    CentralLine,
    /// An indwelling urinary catheter (NHSN: drainage tube inserted into the bladder
    /// through the urethra, left in place, connected to a drainage bag).
    UrinaryCatheter,
}

impl DeviceKind {
    pub const ALL: &'static [DeviceKind] = &[DeviceKind::CentralLine, DeviceKind::UrinaryCatheter];

    /// The code in Tend's `device-kind` code system.
    pub fn code(self) -> &'static str {
        match self {
            DeviceKind::CentralLine => "central-line",
            DeviceKind::UrinaryCatheter => "urinary-catheter",
        }
    }

    pub fn display(self) -> &'static str {
        match self {
            DeviceKind::CentralLine => "Central line",
            DeviceKind::UrinaryCatheter => "Indwelling urinary catheter",
        }
    }

    pub fn parse(code: &str) -> Result<DeviceKind, Error> {
        DeviceKind::ALL
            .iter()
            .copied()
            .find(|k| k.code() == code)
            .ok_or_else(|| Error::Code {
                what: "device kind",
                code: code.to_string(),
            })
    }

    /// The SNOMED CT device concept: 52124006 |Central venous catheter, device| (as the
    /// NHSN digital measures use it) and 23973005 |Indwelling urinary catheter, device| (the
    /// FHIR R4 device-kind value set).
    pub fn snomed(self) -> (&'static str, &'static str) {
        match self {
            DeviceKind::CentralLine => ("52124006", "Central venous catheter, device"),
            DeviceKind::UrinaryCatheter => ("23973005", "Indwelling urinary catheter, device"),
        }
    }

    fn type_concept(self) -> Value {
        let (code, display) = self.snomed();
        json!({"coding": [
                {"system": DEVICE_SYSTEM, "code": self.code(), "display": self.display()},
                {"system": SNOMED, "code": code, "display": display}],
               "text": self.display()})
    }
}

/// Mark a recorded device removed at `at`: its DeviceUseStatement's period closes and it is
/// completed; its Device (when given) becomes inactive. A statement already closed is left
/// as it was (returns `false`).
pub fn removed(statement: &mut Value, device: Option<&mut Value>, at: DateTime<Utc>) -> bool {
    if statement["timingPeriod"]["end"].is_string() {
        return false;
    }
    statement["timingPeriod"]["end"] = json!(instant(at));
    statement["status"] = json!("completed");
    if let Some(d) = device {
        d["status"] = json!("inactive");
    }
    true
}

/// A device in a patient, from placement to removal.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceUse {
    /// `Patient` id.
    pub patient: String,
    /// `Encounter` id, when known.
    pub encounter: Option<String>,
    pub kind: DeviceKind,
    pub placed: DateTime<Utc>,
    /// None while it is still in.
    pub removed: Option<DateTime<Utc>>,
    /// Where it is (e.g. "Right internal jugular vein"), as the clinician wrote it.
    pub site: Option<String>,
}

impl DeviceUse {
    /// Refuses a removal before the placement.
    pub fn check(&self) -> Result<(), Error> {
        match self.removed {
            Some(r) if r < self.placed => Err(Error::Times(format!(
                "{} removed before it was placed",
                self.kind.display()
            ))),
            _ => Ok(()),
        }
    }

    /// The Device (id `device_id`) and the DeviceUseStatement (id `use_id`), recorded at
    /// `recorded`.
    pub fn resources(
        &self,
        device_id: &str,
        use_id: &str,
        recorded: DateTime<Utc>,
    ) -> Result<(Value, Value), Error> {
        self.check()?;
        let device = json!({
            "resourceType": "Device",
            "id": device_id,
            "status": if self.removed.is_some() { "inactive" } else { "active" },
            "type": self.kind.type_concept(),
            "patient": reference("Patient", &self.patient),
        });
        let mut period = json!({"start": instant(self.placed)});
        if let Some(r) = self.removed {
            period["end"] = json!(instant(r));
        }
        let mut statement = json!({
            "resourceType": "DeviceUseStatement",
            "id": use_id,
            "status": if self.removed.is_some() { "completed" } else { "active" },
            "subject": reference("Patient", &self.patient),
            "timingPeriod": period,
            "recordedOn": instant(recorded),
            "device": {"reference": format!("Device/{device_id}"), "display": self.kind.display()},
        });
        if let Some(e) = &self.encounter {
            statement["derivedFrom"] = json!([reference("Encounter", e)]);
        }
        if let Some(s) = &self.site {
            statement["bodySite"] = json!({"text": s});
        }
        Ok((device, statement))
    }
}
