//! `civicgrid classify …`: train a category model from files, predict the categories of
//! messages read from standard input, evaluate a model on a labelled test file, and
//! cross-validate the training recipe. These work on files alone, without a database.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use civicgrid_domain::text::classifier::{self, Evaluation, Options, TrainingSet, cross_validate};

use super::files;
use crate::cli::{io, read_table};
use crate::error::{AppError, AppResult, InputError};

#[derive(Subcommand, Debug)]
pub enum ClassifyCommand {
    /// Trains a category model from labelled messages, unlabelled messages and the category
    /// tree (columns found by header: subject, detail, category; subject, detail; level1,
    /// level2, level3); without --labeled, from the database's cases whose category a
    /// call-taker confirmed, stored there as the next version
    Train {
        #[command(flatten)]
        sources: TrainingSources,
        /// Where to write the model (required when training from files)
        #[arg(long)]
        model: Option<PathBuf>,
        #[command(flatten)]
        options: TrainingOptions,
    },
    /// Reads `id,subject,detail` CSV from standard input and writes `id,category,confidence`
    Predict {
        #[arg(long)]
        model: PathBuf,
    },
    /// Prints a model's precision, recall and F1 per category and the macro F1 on a labelled
    /// test file
    Eval {
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        test: PathBuf,
        /// Print the figures as JSON
        #[arg(long)]
        json: bool,
    },
    /// Scores the training recipe by stratified k-fold cross-validation on the labelled file
    /// (each fold trained with all the unlabelled messages and the tree)
    CrossValidate {
        #[command(flatten)]
        sources: Sources,
        #[arg(long, default_value_t = 5)]
        folds: usize,
        #[command(flatten)]
        options: TrainingOptions,
        #[arg(long)]
        json: bool,
    },
}

/// Training files, or none to train from the database.
#[derive(Args, Debug)]
pub struct TrainingSources {
    /// Labelled messages (subject, detail, category); without it, the database's history
    #[arg(long)]
    labeled: Option<PathBuf>,
    /// Messages without a category (subject, detail)
    #[arg(long, requires = "labeled")]
    unlabeled: Option<PathBuf>,
    /// The category tree (level1, level2, level3)
    #[arg(long, requires = "labeled")]
    taxonomy: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct Sources {
    /// Labelled messages (subject, detail, category)
    #[arg(long)]
    labeled: PathBuf,
    /// Messages without a category (subject, detail), used for the term weights and for
    /// self-training
    #[arg(long)]
    unlabeled: Option<PathBuf>,
    /// The category tree (level1, level2, level3), its names used as weak labels
    #[arg(long)]
    taxonomy: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct TrainingOptions {
    /// Self-training rounds over the unlabelled messages (0 turns it off)
    #[arg(long, default_value_t = Options::default().self_training_rounds)]
    self_training_rounds: u32,
    /// A term must occur in this many texts to count
    #[arg(long, default_value_t = Options::default().min_texts)]
    min_texts: u32,
}

impl TrainingOptions {
    fn options(&self) -> Options {
        Options {
            self_training_rounds: self.self_training_rounds,
            min_texts: self.min_texts.max(1),
            ..Options::default()
        }
    }
}

impl Sources {
    fn read(&self) -> AppResult<TrainingSet> {
        read_set(
            &self.labeled,
            self.unlabeled.as_deref(),
            self.taxonomy.as_deref(),
        )
    }
}

fn read_set(
    labeled: &Path,
    unlabeled: Option<&Path>,
    taxonomy: Option<&Path>,
) -> AppResult<TrainingSet> {
    let (name, text) = read_table(labeled)?;
    let labelled = files::labelled(&name, &text)?;
    let unlabelled = match unlabeled {
        Some(path) => {
            let (name, text) = read_table(path)?;
            files::unlabelled(&name, &text)?
        }
        None => Vec::new(),
    };
    let taxonomy = match taxonomy {
        Some(path) => {
            let (name, text) = read_table(path)?;
            files::taxonomy(&name, &text)?
        }
        None => Vec::new(),
    };
    Ok(TrainingSet {
        labelled,
        unlabelled,
        taxonomy,
    })
}

fn model_at(path: &Path) -> AppResult<classifier::CategoryModel> {
    let (name, text) = read_table(path)?;
    files::read_model(&name, &text)
}

fn trained(e: classifier::TrainingError) -> AppError {
    AppError::Invalid(e.to_string())
}

/// Whether the command works on files alone (everything but training from the history).
pub fn is_offline(command: &ClassifyCommand) -> bool {
    !matches!(
        command,
        ClassifyCommand::Train {
            sources: TrainingSources { labeled: None, .. },
            ..
        }
    )
}

/// `classify train` from the database's history: stores the next version, and writes the
/// model to --model too when given.
pub async fn run_with_store(
    app: &crate::App,
    command: &ClassifyCommand,
    out: &mut dyn Write,
) -> AppResult<i32> {
    let ClassifyCommand::Train { model, .. } = command else {
        return run(command, &mut std::io::empty(), out);
    };
    let started = std::time::Instant::now();
    let trained = app.train_category_model_from_history().await?;
    writeln!(
        out,
        "trained version {} on {} cases with a confirmed category, {:.1} s",
        trained.version,
        trained.labelled,
        started.elapsed().as_secs_f64()
    )
    .map_err(io)?;
    if let Some(e) = &trained.evaluation {
        writeln!(out, "5-fold cross-validation on the history:").map_err(io)?;
        print_evaluation(e, false, out)?;
    }
    if let Some(path) = model
        && let Some(m) = app.category_model().await?
    {
        files::write_model(path, &m)?;
        writeln!(out, "written to {}", path.display()).map_err(io)?;
    }
    Ok(0)
}

/// Runs a `classify` command on files.
pub fn run(command: &ClassifyCommand, input: &mut dyn Read, out: &mut dyn Write) -> AppResult<i32> {
    match command {
        ClassifyCommand::Train {
            sources,
            model,
            options,
        } => {
            let (Some(labeled), Some(model)) = (&sources.labeled, model) else {
                return Err(AppError::Invalid(
                    "training from files needs --labeled FILE and --model OUT".into(),
                ));
            };
            let set = read_set(
                labeled,
                sources.unlabeled.as_deref(),
                sources.taxonomy.as_deref(),
            )?;
            let started = std::time::Instant::now();
            let trained_model = classifier::train(&set, options.options()).map_err(trained)?;
            files::write_model(model, &trained_model)?;
            let s = &trained_model.summary;
            writeln!(
                out,
                "trained on {} labelled, {} unlabelled ({} self-labelled) and {} tree rows: {} categories, {} terms, {:.1} s; written to {}",
                s.labelled,
                s.unlabelled,
                s.self_labelled,
                s.taxonomy,
                trained_model.categories().len(),
                s.terms,
                started.elapsed().as_secs_f64(),
                model.display()
            )
            .map_err(io)?;
            Ok(0)
        }
        ClassifyCommand::Predict { model } => {
            let model = model_at(model)?;
            let mut text = String::new();
            input
                .read_to_string(&mut text)
                .map_err(|source| AppError::Io {
                    path: "standard input".into(),
                    source,
                })?;
            let messages = files::messages("standard input", &text)?;
            let rows: Vec<(String, String, f32)> = messages
                .into_iter()
                .map(|m| {
                    let (category, confidence) = model.predict(&m.text);
                    (m.id, category, confidence)
                })
                .collect();
            out.write_all(files::predictions_csv(&rows)?.as_bytes())
                .map_err(io)?;
            Ok(0)
        }
        ClassifyCommand::Eval { model, test, json } => {
            let model = model_at(model)?;
            let (name, text) = read_table(test)?;
            let examples = files::labelled(&name, &text)?;
            let unknown: Vec<&str> = {
                let mut u: Vec<&str> = examples
                    .iter()
                    .map(|e| e.category.as_str())
                    .filter(|c| !model.categories().iter().any(|k| k == c))
                    .collect();
                u.sort_unstable();
                u.dedup();
                u
            };
            if !unknown.is_empty() {
                writeln!(
                    out,
                    "note: the model never saw the categories {}; their examples count as misses",
                    unknown.join(", ")
                )
                .map_err(io)?;
            }
            print_evaluation(&model.evaluate(&examples), *json, out)?;
            Ok(0)
        }
        ClassifyCommand::CrossValidate {
            sources,
            folds,
            options,
            json,
        } => {
            let set = sources.read()?;
            if set.labelled.len() < *folds {
                return Err(InputError::file(
                    &sources.labeled.display().to_string(),
                    format!("{} examples cannot make {folds} folds", set.labelled.len()),
                )
                .into());
            }
            let evaluation = cross_validate(&set, options.options(), *folds).map_err(trained)?;
            if !json {
                writeln!(out, "{folds}-fold cross-validation").map_err(io)?;
            }
            print_evaluation(&evaluation, *json, out)?;
            Ok(0)
        }
    }
}

fn print_evaluation(e: &Evaluation, json: bool, out: &mut dyn Write) -> AppResult<()> {
    if json {
        let text = serde_json::to_string_pretty(e).map_err(|e| AppError::Invalid(e.to_string()))?;
        return writeln!(out, "{text}").map_err(io);
    }
    writeln!(
        out,
        "{:<16} {:>9} {:>9} {:>9} {:>8}",
        "category", "precision", "recall", "f1", "support"
    )
    .map_err(io)?;
    for c in &e.categories {
        writeln!(
            out,
            "{:<16} {:>9.4} {:>9.4} {:>9.4} {:>8}",
            c.category, c.precision, c.recall, c.f1, c.support
        )
        .map_err(io)?;
    }
    writeln!(
        out,
        "accuracy {:.4} over {} examples",
        e.accuracy, e.examples
    )
    .map_err(io)?;
    writeln!(out, "macro F1 {:.4}", e.macro_f1).map_err(io)
}
