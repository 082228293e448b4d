//! Category suggestion (分类建议): the model that reads a message and proposes its category,
//! trained from labelled files (and unlabelled text and the category tree) or from the
//! deployment's own cases whose category a call-taker confirmed. The learning itself is pure
//! (`civicgrid_domain::text::classifier`); this capability keeps models in the database with
//! their version and evaluation, retrains them by a job as confirmed cases accumulate, answers
//! `civicgrid classify …`, and gives the call-taker the top three with their reasons.

pub mod cli;
pub mod files;
pub mod jobs;

use std::sync::Arc;

use civicgrid_domain::text::classifier::{
    CategoryModel, Evaluation, Labelled, Options, TrainingSet, cross_validate, message_text, train,
};
use civicgrid_store::CategoryModelRecord;
use serde::Serialize;

use crate::App;
use crate::error::{AppError, AppResult};

/// The model last loaded and its version, shared by the requests of an instance.
pub type ModelCache = Arc<std::sync::RwLock<Option<(u64, Arc<CategoryModel>)>>>;

/// Confirmed cases needed before a model is trained from the history at all.
pub const FIRST_MODEL_AT: u64 = 30;
/// Confirmed cases that must have come since the current model before the job retrains.
pub const RETRAIN_AFTER: u64 = 50;
/// The newest cases read for training (labelled and not).
const HISTORY: u32 = 50_000;

/// A category proposed for a message, with its names and the terms that weighed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CategorySuggestion {
    /// The category code.
    pub category: String,
    pub name_zh: String,
    pub name_en: String,
    /// 0–1.
    pub confidence: f32,
    /// The words that weighed most for it, heaviest first.
    pub because: Vec<String>,
}

/// What training from the history produced.
#[derive(Debug, Clone)]
pub struct Trained {
    pub version: u64,
    pub labelled: usize,
    pub evaluation: Option<Evaluation>,
}

impl App {
    /// Trains a model from the cases whose category a call-taker confirmed (the other cases'
    /// text unlabelled, the category names as weak labels), scores it by 5-fold
    /// cross-validation when there are enough examples, and stores it as the next version.
    pub async fn train_category_model_from_history(&self) -> AppResult<Trained> {
        let confirmed = self.repo.confirmed_case_count().await?;
        let texts = self.repo.case_texts(HISTORY).await?;
        let reference = self.reference().await?;
        let mut set = TrainingSet::default();
        for t in texts {
            match t.confirmed_category {
                Some(category) => set.labelled.push(Labelled {
                    text: message_text("", &t.description),
                    category,
                }),
                None => set.unlabelled.push(message_text("", &t.description)),
            }
        }
        if (set.labelled.len() as u64) < FIRST_MODEL_AT {
            return Err(AppError::Invalid(format!(
                "only {} cases have a confirmed category; {FIRST_MODEL_AT} are needed to train",
                set.labelled.len()
            )));
        }
        // Each category's names (and its major category's) as a short example of it.
        set.taxonomy = reference
            .categories
            .iter()
            .filter(|c| !c.code.is_major())
            .map(|c| {
                let major = reference
                    .categories
                    .iter()
                    .find(|m| m.code == c.code.major())
                    .map(|m| m.name_zh.clone())
                    .unwrap_or_default();
                vec![c.code.as_str().to_owned(), major, c.name_zh.clone()]
            })
            .collect();
        // Training and cross-validation are CPU work: off the request threads.
        let labelled = set.labelled.len();
        let (model, evaluation) = tokio::task::spawn_blocking(move || {
            let options = Options::default();
            let model = train(&set, options).map_err(|e| e.to_string())?;
            // A fold may lack a rare category entirely; the model stands without an evaluation.
            let evaluation = if set.labelled.len() >= 50 {
                cross_validate(&set, options, 5).ok()
            } else {
                None
            };
            Ok::<_, String>((model, evaluation))
        })
        .await
        .map_err(|e| AppError::Invalid(format!("training could not run: {e}")))?
        .map_err(AppError::Invalid)?;
        let version = self
            .save_category_model("history", &model, evaluation.as_ref(), confirmed)
            .await?;
        Ok(Trained {
            version,
            labelled,
            evaluation,
        })
    }

    /// Stores a model as the next version, with the confirmed cases it was trained at.
    pub async fn save_category_model(
        &self,
        source: &str,
        model: &CategoryModel,
        evaluation: Option<&Evaluation>,
        confirmed: u64,
    ) -> AppResult<u64> {
        let json = |v: &dyn erased::Json| v.to_json();
        let record = CategoryModelRecord {
            version: 0,
            trained_at: self.clock.now(),
            source: source.to_owned(),
            labelled: model.summary.labelled as u64,
            confirmed,
            evaluation: match evaluation {
                Some(e) => json(e)?,
                None => "{}".to_owned(),
            },
            model: json(model)?,
        };
        Ok(self.repo.save_category_model(&record).await?)
    }

    /// The current model, loaded once per version per instance; `None` before any is trained.
    pub async fn category_model(&self) -> AppResult<Option<Arc<CategoryModel>>> {
        let Some((version, _)) = self.repo.current_category_model_version().await? else {
            return Ok(None);
        };
        if let Ok(cache) = self.category_model.read()
            && let Some((v, model)) = cache.as_ref()
            && *v == version
        {
            return Ok(Some(model.clone()));
        }
        let Some(record) = self.repo.current_category_model().await? else {
            return Ok(None);
        };
        let model: CategoryModel = serde_json::from_str(&record.model).map_err(|e| {
            AppError::Invalid(format!(
                "category model version {} cannot be read: {e}",
                record.version
            ))
        })?;
        let model = Arc::new(model);
        if let Ok(mut cache) = self.category_model.write() {
            *cache = Some((record.version, model.clone()));
        }
        Ok(Some(model))
    }

    /// The three likeliest categories of a message that exist in the catalogue, with their
    /// reasons; empty while no model is trained.
    pub async fn suggest_categories(
        &self,
        subject: &str,
        description: &str,
    ) -> AppResult<Vec<CategorySuggestion>> {
        let Some(model) = self.category_model().await? else {
            return Ok(Vec::new());
        };
        let reference = self.reference().await?;
        let text = message_text(subject, description);
        Ok(model
            .suggest(&text, model.categories().len())
            .into_iter()
            .filter_map(|s| {
                let c = reference
                    .categories
                    .iter()
                    .find(|c| c.code.as_str() == s.category)?;
                Some(CategorySuggestion {
                    category: s.category,
                    name_zh: c.name_zh.clone(),
                    name_en: c.name_en.clone(),
                    confidence: (s.confidence * 1000.0).round() / 1000.0,
                    because: s.because.into_iter().map(|t| t.term).collect(),
                })
            })
            .take(3)
            .collect())
    }

    /// Retrains from the history when enough newly confirmed cases have come since the current
    /// model (or there is none and enough exist); the new version, if any.
    pub async fn retrain_category_model_if_due(&self) -> AppResult<Option<u64>> {
        let confirmed = self.repo.confirmed_case_count().await?;
        let due = match self.repo.current_category_model_version().await? {
            None => confirmed >= FIRST_MODEL_AT,
            Some((_, then)) => confirmed >= then + RETRAIN_AFTER,
        };
        if !due {
            return Ok(None);
        }
        Ok(Some(
            self.train_category_model_from_history().await?.version,
        ))
    }
}

/// Serialising the domain's values to JSON text with one error mapping.
mod erased {
    use crate::error::{AppError, AppResult};

    pub trait Json {
        fn to_json(&self) -> AppResult<String>;
    }

    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> AppResult<String> {
            serde_json::to_string(self).map_err(|e| AppError::Invalid(e.to_string()))
        }
    }
}
