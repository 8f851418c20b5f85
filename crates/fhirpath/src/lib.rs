//! FHIRPath for Tend: a small synchronous adapter around the chosen engine
//! (`octofhir-fhirpath`, with the embedded R4 model from `octofhir-fhirschema`).
//! Spec: <https://hl7.org/fhirpath/N1/>, as used by R4 search parameters:
//! <https://hl7.org/fhir/R4/fhirpath.html>.
//!
//! Architecture invariant: nothing outside this crate names the engine's types, so the
//! engine can be swapped without touching the search indexer or the measures engine.
//! The engine's API is `async`, but evaluation never waits on IO (the model is embedded
//! and `resolve()` has no server to call), so every future is driven to completion on
//! the calling thread (see `executor.rs`): no runtime, no thread hop.
//!
//! Costs, measured on the write path: converting a resource for the engine
//! ([`Engine::prepare`]) is the largest fixed cost, so convert once per resource and
//! evaluate every expression on the [`Prepared`] value.

mod convert;
mod executor;
mod model;

pub use executor::block_on;
pub use model::ElementType;

use std::sync::Arc;

use octofhir_fhirpath::core::model_provider::TypeInfo;
use octofhir_fhirpath::core::node::FhirNode;
use octofhir_fhirpath::core::trace::{NoOpTraceProvider, SharedTraceProvider};
use octofhir_fhirpath::{
    AnalysisContext, Collection, CompiledPlan, DiagnosticSeverity, EvaluationContext,
    FhirPathEngine, FhirPathValue, ModelProvider, StaticAnalyzer,
};
use octofhir_fhirschema::EmbeddedSchemaProvider;

/// The one error type of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine could not be set up (model or function registry).
    #[error("the FHIRPath engine could not start: {0}")]
    Startup(String),
    /// The expression is not valid FHIRPath.
    #[error("invalid FHIRPath expression `{expression}`: {message}")]
    Syntax { expression: String, message: String },
    /// The expression does not fit the model (see [`Engine::check`]).
    #[error("`{expression}` does not fit the R4 model: {message}")]
    Semantic { expression: String, message: String },
    /// The expression is valid but failed on this input (e.g. a singleton was expected).
    #[error("evaluating `{expression}` failed: {message}")]
    Evaluation { expression: String, message: String },
}

/// One result of an evaluation: its value as FHIR JSON and, when known, its FHIR type
/// name (`CodeableConcept`, `Reference`, `dateTime`, `string`, `code`, `Quantity`, ...).
/// Values the engine computed rather than read from the resource carry the FHIRPath
/// system type in FHIR spelling (`boolean`, `integer`, `decimal`, `string`, `date`,
/// `dateTime`, `time`, `Quantity`). `None` when the engine cannot tell: it does not type
/// the elements a resource inherits (`meta` and what lies below it).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub value: serde_json::Value,
    pub type_name: Option<String>,
}

/// A compiled expression. Compile once at start-up, evaluate on every resource.
#[derive(Clone)]
pub struct Compiled {
    plan: Arc<CompiledPlan>,
    source: Arc<str>,
}

impl Compiled {
    /// The expression text as compiled.
    pub fn source(&self) -> &str {
        &self.source
    }
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Compiled").field(&self.source).finish()
    }
}

/// A resource converted once into the engine's representation, ready for any number of
/// expressions: converting is the largest fixed cost of an evaluation.
pub struct Prepared {
    context: EvaluationContext,
}

/// The FHIRPath engine with the R4 model. Build once; it is `Send + Sync` and cheap to
/// share behind an `Arc` or a `static`.
pub struct Engine {
    inner: FhirPathEngine,
    model: Arc<dyn ModelProvider + Send + Sync>,
    /// `trace()` output goes nowhere: the engine would otherwise print to stderr.
    trace: SharedTraceProvider,
    /// `(type, element)` -> element type lookups, shared by every evaluation: a pure
    /// function of the (fixed) R4 model.
    element_types: Arc<papaya::HashMap<String, Option<Arc<TypeInfo>>>>,
    /// Resource type name -> its type in the model.
    resource_types: papaya::HashMap<String, Arc<TypeInfo>>,
}

impl Engine {
    /// The engine with the embedded FHIR R4 (4.0.1) model.
    pub fn r4() -> Result<Engine, Error> {
        let model: Arc<dyn ModelProvider + Send + Sync> = Arc::new(EmbeddedSchemaProvider::r4());
        let functions = Arc::new(octofhir_fhirpath::create_function_registry());
        let trace: SharedTraceProvider = Arc::new(NoOpTraceProvider);
        let inner = block_on(FhirPathEngine::new(functions, model.clone()))
            .map_err(|e| Error::Startup(e.to_string()))?
            .with_trace_provider(trace.clone());
        Ok(Engine {
            inner,
            model,
            trace,
            element_types: Arc::new(papaya::HashMap::new()),
            resource_types: papaya::HashMap::new(),
        })
    }

    /// Parse and plan an expression.
    pub fn compile(&self, expr: &str) -> Result<Compiled, Error> {
        let plan = self.inner.compile_plan(expr).map_err(|e| Error::Syntax {
            expression: expr.to_owned(),
            message: e.to_string(),
        })?;
        Ok(Compiled {
            plan,
            source: Arc::from(expr),
        })
    }

    /// Convert a resource (or any FHIR JSON value) once for several evaluations.
    pub fn prepare(&self, resource: &serde_json::Value) -> Prepared {
        let node = FhirNode::from_json(resource);
        let root = match resource
            .get("resourceType")
            .and_then(serde_json::Value::as_str)
        {
            Some(name) => match self.resource_type(name) {
                Some(info) => FhirPathValue::Resource(node, info, None),
                None => FhirPathValue::resource_from_node(node),
            },
            None => FhirPathValue::resource_from_node(node),
        };
        let input = if resource.is_null() {
            Collection::empty()
        } else {
            Collection::single(root)
        };
        let context = EvaluationContext::new_with_server_and_element_type_cache(
            input,
            self.model.clone(),
            None,
            None,
            Some(self.trace.clone()),
            None,
            self.element_types.clone(),
        );
        Prepared { context }
    }

    /// Evaluate on a resource; results as JSON values plus their FHIR type name.
    pub fn evaluate(
        &self,
        expr: &Compiled,
        resource: &serde_json::Value,
    ) -> Result<Vec<Item>, Error> {
        self.evaluate_prepared(expr, &self.prepare(resource))
    }

    /// Evaluate on a resource converted by [`Engine::prepare`].
    pub fn evaluate_prepared(&self, expr: &Compiled, input: &Prepared) -> Result<Vec<Item>, Error> {
        let result = self.run(expr, &input.context)?;
        let mut items = Vec::with_capacity(result.len());
        for value in result.iter() {
            convert::push_items(value, &mut items);
        }
        Ok(items)
    }

    /// For each item `focus` yields on `input`, evaluate every expression of `each` with
    /// that item as the input (`result[item][expression]`). Items keep their model type,
    /// so relative paths such as `value.ofType(Quantity)` work on backbone elements; this
    /// is how composite search parameters pair their components.
    pub fn evaluate_for_each(
        &self,
        focus: &Compiled,
        each: &[Compiled],
        input: &Prepared,
    ) -> Result<Vec<Vec<Vec<Item>>>, Error> {
        let items = self.run(focus, &input.context)?;
        let mut out = Vec::with_capacity(items.len());
        for item in items.iter() {
            let context = input
                .context
                .create_child_context(Collection::single(item.clone()));
            let mut row = Vec::with_capacity(each.len());
            for expr in each {
                let mut values = Vec::new();
                for value in self.run(expr, &context)?.iter() {
                    convert::push_items(value, &mut values);
                }
                row.push(values);
            }
            out.push(row);
        }
        Ok(out)
    }

    fn run(&self, expr: &Compiled, context: &EvaluationContext) -> Result<Collection, Error> {
        block_on(self.inner.evaluate_plan(&expr.plan, context))
            .map(|r| r.value)
            .map_err(|e| Error::Evaluation {
                expression: expr.source.to_string(),
                message: e.to_string(),
            })
    }

    /// The declared type of `element` in `parent` (a type such as `Observation`, or a
    /// backbone element path such as `Observation.component`), inherited elements
    /// included; `None` when the model has no such element.
    pub fn element_type(&self, parent: &str, element: &str) -> Option<ElementType> {
        model::element_type(parent, element)
    }

    /// Check an expression against the R4 model without evaluating it, with
    /// `context_type` (a resource or data type name) as the type of the input: unknown
    /// elements, choice elements named with their type suffix (`valueQuantity`), and
    /// functions or operators that cannot apply are errors.
    pub fn check(&self, expr: &str, context_type: &str) -> Result<(), Error> {
        let root = block_on(self.model.get_type(context_type))
            .ok()
            .flatten()
            .ok_or_else(|| Error::Semantic {
                expression: expr.to_owned(),
                message: format!("unknown type {context_type}"),
            })?;
        let mut analyzer = StaticAnalyzer::new(self.model.clone());
        let context = AnalysisContext::new(root).with_optimization_suggestions(false);
        let result = block_on(analyzer.analyze_expression(expr, context));
        if result.success {
            return Ok(());
        }
        let message = result
            .diagnostics
            .iter()
            .filter(|d| matches!(d.severity, DiagnosticSeverity::Error))
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
            .join("; ");
        Err(Error::Semantic {
            expression: expr.to_owned(),
            message,
        })
    }

    fn resource_type(&self, name: &str) -> Option<Arc<TypeInfo>> {
        if let Some(info) = self.resource_types.pin().get(name) {
            return Some(info.clone());
        }
        let info = Arc::new(block_on(self.model.get_type(name)).ok()??);
        self.resource_types
            .pin()
            .insert(name.to_owned(), info.clone());
        Some(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn handles_are_send_and_sync() {
        assert_send_sync::<Engine>();
        assert_send_sync::<Compiled>();
        assert_send_sync::<Prepared>();
    }

    #[test]
    fn evaluates_with_fhir_types() {
        let engine = Engine::r4().unwrap();
        let obs = json!({
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2024-05-01T10:15:00+02:00",
            "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}
        });
        let eval = |expr: &str| {
            engine
                .evaluate(&engine.compile(expr).unwrap(), &obs)
                .unwrap()
        };
        let code = eval("Observation.code");
        assert_eq!(code[0].type_name.as_deref(), Some("CodeableConcept"));
        assert_eq!(code[0].value["coding"][0]["code"], "8867-4");
        assert_eq!(
            eval("Observation.subject")[0].type_name.as_deref(),
            Some("Reference")
        );
        let when = eval("Observation.effective");
        assert_eq!(when[0].value, json!("2024-05-01T10:15:00+02:00"));
        assert_eq!(when[0].type_name.as_deref(), Some("dateTime"));
        let q = eval("Observation.value.ofType(Quantity)");
        assert_eq!(q[0].type_name.as_deref(), Some("Quantity"));
        assert_eq!(q[0].value["value"], json!(72));
        assert_eq!(q[0].value["code"], json!("/min"));
        assert_eq!(
            eval("Observation.status")[0].type_name.as_deref(),
            Some("code")
        );
        assert_eq!(
            eval("1 + 1")[0],
            Item {
                value: json!(2),
                type_name: Some("integer".into())
            }
        );
    }

    #[test]
    fn syntax_errors_are_reported() {
        let engine = Engine::r4().unwrap();
        assert!(matches!(
            engine.compile("Patient.name.("),
            Err(Error::Syntax { .. })
        ));
    }
}
