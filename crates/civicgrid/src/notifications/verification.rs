//! Verification codes texted to residents: a reporter who no longer has the secret issued
//! with the receipt evaluates the closed case with a code sent to the number they left with
//! it. The number is never shown or asked for (the code goes to the number on file, masked
//! in the answer), kept only as a keyed digest beside the code's digest, and one number is
//! sent codes no more often than `verification::SendLimits` allows, whoever asks.

use civicgrid_domain::case::{Case, Status};
use civicgrid_domain::notification::verification::{
    CODE_GUESSES, CODE_LIFETIME, SendLimits, code_from,
};
use civicgrid_store::VerificationCode;
use serde::Serialize;

use super::{VERIFICATION_TOPIC, mask_address, sms};
use crate::App;
use crate::accounts::limits::ClientAddr;
use crate::error::{AppError, AppResult};

/// What a code is for.
const EVALUATE: &str = "evaluate";

/// The answer to a request for a code.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CodeSent {
    /// The number it went to, masked (`***8000`).
    pub sent_to: String,
    #[schema(value_type = String)]
    pub expires_at: jiff::Timestamp,
}

impl App {
    /// Texts a code to the number left with the case of `receipt`, for evaluating it.
    pub async fn send_evaluation_code(
        &self,
        receipt: &str,
        from: &ClientAddr,
    ) -> AppResult<CodeSent> {
        self.count_lookup(from).await?;
        let case = self.case_of_receipt(receipt).await?;
        if case.state.status != Status::Closed {
            return Err(AppError::NotAllowed {
                message: "only a closed case awaits the reporter's evaluation".into(),
                status: case.state.status,
            });
        }
        let provider = self.notifier.sms.clone().ok_or_else(|| {
            AppError::Invalid(
                "this platform sends no SMS; evaluate with the secret issued with the receipt"
                    .into(),
            )
        })?;
        let (sealer, phone) = self.reporter_number(&case)?;
        let now = self.clock.now();
        let id = self.ids.new_id(now);
        let code = code_from(self.ids.random_bits());
        let record = VerificationCode {
            id,
            number: number_key(sealer, &phone),
            purpose: EVALUATE.into(),
            case_id: case.id,
            code_digest: sealer.keyed_digest(format!("{id}:{code}").as_bytes()),
            created_at: now,
            expires_at: now + CODE_LIFETIME,
            guesses: 0,
            spent_at: None,
        };
        let limits = SendLimits::default();
        let allowed = self
            .repo
            .issue_verification_code(&record, now - limits.window(), &|sent| {
                limits.next_send(sent, now)
            })
            .await?;
        if let Err(when) = allowed {
            let wait = when.duration_since(now).as_secs().max(1);
            return Err(AppError::TooManyRequests {
                retry_after: u64::try_from(wait).unwrap_or(u64::MAX),
            });
        }
        let minutes = CODE_LIFETIME.as_mins().to_string();
        let text = if self.notifier.language == "en" {
            format!(
                "Your code is {code}, valid for {minutes} minutes, to evaluate your report {}. If you did not ask for it, ignore this message.",
                case.receipt_code
            )
        } else {
            format!(
                "您的验证码为{code}，{minutes}分钟内有效，用于评价您反映的问题（{}）。如非本人操作，请忽略。",
                case.receipt_code
            )
        };
        let values = [
            ("code", code.clone()),
            ("minutes", minutes),
            ("receipt", case.receipt_code.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let id_text = id.to_string();
        self.send_sms(
            provider.as_ref(),
            &sms::Sms {
                id: &id_text,
                phone: &phone,
                topic: VERIFICATION_TOPIC,
                text: &text,
                values: &values,
            },
        )
        .await
        .map_err(|f| {
            AppError::Upstream(format!(
                "the SMS was not sent: {}",
                super::mask_addresses_in(&f.reason)
            ))
        })?;
        Ok(CodeSent {
            sent_to: mask_address(&phone),
            expires_at: record.expires_at,
        })
    }

    /// The case of `receipt` if `code` is the latest code texted for evaluating it, unspent,
    /// unexpired and guessed fewer than `CODE_GUESSES` times; the code is then spent.
    pub async fn case_by_evaluation_code(
        &self,
        receipt: &str,
        code: &str,
        from: &ClientAddr,
    ) -> AppResult<Case> {
        self.count_lookup(from).await?;
        let refused = |why: &str| AppError::Forbidden(why.to_owned());
        let case = self
            .case_of_receipt(receipt)
            .await
            .map_err(|_| refused("the receipt code and the code do not match a case"))?;
        let (sealer, phone) = self
            .reporter_number(&case)
            .map_err(|_| refused("the receipt code and the code do not match a case"))?;
        let Some(kept) = self
            .repo
            .latest_verification_code(&number_key(sealer, &phone), EVALUATE, &case.id)
            .await?
        else {
            return Err(refused("no code was sent for this case; ask for one"));
        };
        let now = self.clock.now();
        if kept.spent_at.is_some() || kept.expires_at <= now || kept.guesses >= CODE_GUESSES {
            return Err(refused(
                "the code has expired or was used; ask for a new one",
            ));
        }
        let guesses = self.repo.guess_verification_code(&kept.id).await?;
        let digest = sealer.keyed_digest(format!("{}:{}", kept.id, code.trim()).as_bytes());
        if guesses > CODE_GUESSES
            || !crate::cases::seal::same_in_constant_time(&digest, &kept.code_digest)
        {
            return Err(refused("the code is wrong"));
        }
        if !self.repo.spend_verification_code(&kept.id, now).await? {
            return Err(refused(
                "the code has expired or was used; ask for a new one",
            ));
        }
        Ok(case)
    }

    async fn case_of_receipt(&self, receipt: &str) -> AppResult<Case> {
        let missing = || AppError::NotFound(format!("no case has the receipt code {receipt}"));
        let code = civicgrid_domain::case::normalize_receipt_code(receipt).ok_or_else(missing)?;
        self.repo.case_by_receipt(&code).await?.ok_or_else(missing)
    }

    /// The data key and the number the reporter left with the case.
    fn reporter_number(&self, case: &Case) -> AppResult<(&crate::cases::seal::Sealer, String)> {
        let no_number = || {
            AppError::Invalid(
                "no phone number was left with this report; evaluate with the secret issued with the receipt"
                    .into(),
            )
        };
        let sealer = self.sealer.as_deref().ok_or_else(no_number)?;
        let sealed = case.reporter_sealed.as_ref().ok_or_else(no_number)?;
        let phone = sealer.open(&case.id, sealed)?.phone.ok_or_else(no_number)?;
        Ok((sealer, phone))
    }
}

/// A number as it is kept: the keyed digest of its E.164 form, so the same number written
/// differently is one number, and the database alone does not tell it.
fn number_key(sealer: &crate::cases::seal::Sealer, phone: &str) -> String {
    sealer.blind_key(&format!("phone:{}", sms::e164(phone)))
}
