//! Polls: a secret ballot of the registered households of a region. Grid workers hand each
//! household a one-time code from the register (no account, no SMS); a vote spends its code
//! and adds to the count in one transaction; nothing links a code to a choice; the count is
//! published when the poll closes.

use civicgrid_domain::consultation::{Ballot, PollPhase, check_choices, poll_phase};
use civicgrid_domain::policy::Actor;
use civicgrid_store::PollRecord;

use super::text;
use crate::App;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone)]
pub struct NewPoll {
    /// A grid's community, a community or a street.
    pub scope: String,
    pub question: String,
    pub options: Vec<String>,
    pub ballot: Ballot,
    pub opens_at: jiff::Timestamp,
    pub closes_at: jiff::Timestamp,
    /// A topic's number.
    pub topic: Option<String>,
}

/// A poll as anyone sees it: its count only once closed.
#[derive(Debug, Clone)]
pub struct PollView {
    pub poll: PollRecord,
    pub phase: PollPhase,
    /// Households given a code, and of them how many voted (published when closed).
    pub codes: u64,
    pub voted: Option<u64>,
    pub votes: Option<Vec<u64>>,
}

fn code_digest(app: &App, poll: &uuid::Uuid, code: &str) -> String {
    let plain = code.trim().to_ascii_uppercase().replace(['-', ' '], "");
    crate::cases::seal::reporter_key(app.sealer.as_deref(), poll, &plain)
}

impl App {
    /// Opens a poll (those who run consultation in its region).
    pub async fn create_poll(&self, actor: &Actor, new: NewPoll) -> AppResult<PollRecord> {
        let scope = self.consultation_scope(&new.scope).await?;
        self.manages(actor, &scope.region).await?;
        let mut problems = Vec::new();
        let question = text("question", &new.question, 1, 200, &mut problems);
        let options: Vec<String> = new
            .options
            .iter()
            .enumerate()
            .map(|(i, o)| text(&format!("options[{i}]"), o, 1, 80, &mut problems))
            .collect();
        if !(2..=20).contains(&options.len()) {
            problems.push(("options".to_owned(), "2 to 20 options".to_owned()));
        }
        if let Ballot::Multiple { max } = new.ballot
            && (max < 2 || usize::from(max) > options.len())
        {
            problems.push((
                "ballot".to_owned(),
                "a multiple choice takes 2 to all options".to_owned(),
            ));
        }
        if new.closes_at <= new.opens_at {
            problems.push(("closes_at".to_owned(), "after opens_at".to_owned()));
        }
        let topic = match new.topic.as_deref().filter(|t| !t.trim().is_empty()) {
            Some(t) => match self
                .repo
                .topic_by_public_id(&t.trim().to_ascii_uppercase())
                .await?
            {
                Some(found) if found.region.as_str().starts_with(scope.region.as_str()) => {
                    Some(found.id)
                }
                Some(_) => {
                    problems.push((
                        "topic".to_owned(),
                        format!("topic {t} is of another region"),
                    ));
                    None
                }
                None => {
                    problems.push(("topic".to_owned(), format!("no topic {t}")));
                    None
                }
            },
            None => None,
        };
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        let now = self.clock.now();
        let poll = PollRecord {
            id: self.ids.new_id(now),
            region: scope.region,
            question,
            options,
            ballot: new.ballot,
            opens_at: new.opens_at,
            closes_at: new.closes_at,
            created_by: actor.name().to_owned(),
            created_at: now,
            topic,
        };
        self.repo.create_poll(&poll).await?;
        Ok(poll)
    }

    pub async fn poll_view(&self, id: &uuid::Uuid) -> AppResult<PollView> {
        let poll = self
            .repo
            .poll(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("poll {id}")))?;
        let count = self.repo.poll_count(id).await?;
        let phase = poll_phase(poll.opens_at, poll.closes_at, self.clock.now());
        let closed = phase == PollPhase::Closed;
        Ok(PollView {
            poll,
            phase,
            codes: count.codes,
            voted: closed.then_some(count.voted),
            votes: closed.then_some(count.votes),
        })
    }

    pub async fn polls_in(
        &self,
        within: &civicgrid_domain::territory::RegionCode,
        limit: u32,
    ) -> AppResult<Vec<PollRecord>> {
        Ok(self.repo.polls(within, limit.min(500)).await?)
    }

    /// Hands a registered household of the poll's region its one-time code (its contact or
    /// whoever keeps the register); shown once, kept as a digest. One code per household.
    pub async fn issue_poll_code(
        &self,
        actor: &Actor,
        poll: &uuid::Uuid,
        household: &uuid::Uuid,
    ) -> AppResult<String> {
        let p = self
            .repo
            .poll(poll)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("poll {poll}")))?;
        let h = self
            .repo
            .household(household)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("household {household}")))?;
        self.reference()
            .await?
            .policy()
            .may_read_household(actor, &h.region, h.assignee.as_deref())
            .map_err(AppError::Forbidden)?;
        if !h.region.as_str().starts_with(p.region.as_str()) {
            return Err(AppError::Unprocessable(vec![(
                "household".to_owned(),
                format!("the household is not registered in {}", p.region),
            )]));
        }
        if poll_phase(p.opens_at, p.closes_at, self.clock.now()) == PollPhase::Closed {
            return Err(AppError::Conflict("the poll is closed".into()));
        }
        let code = civicgrid_domain::case::reporter_secret(self.ids.random_bits());
        match self
            .repo
            .issue_poll_code(poll, household, &code_digest(self, poll, &code))
            .await
        {
            Err(civicgrid_store::StoreError::Conflict(_)) => Err(AppError::Conflict(
                "the household has its code for this poll already".into(),
            )),
            other => {
                other?;
                Ok(code)
            }
        }
    }

    /// Casts a vote with a code: once, while the poll is open. An unknown and a spent code get
    /// the same refusal.
    /// Every attempt counts against the caller's lookups: codes are credentials.
    pub async fn vote(
        &self,
        poll: &uuid::Uuid,
        code: &str,
        choices: &[usize],
        from: &crate::accounts::limits::ClientAddr,
    ) -> AppResult<()> {
        self.count_lookup(from).await?;
        let p = self
            .repo
            .poll(poll)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("poll {poll}")))?;
        match poll_phase(p.opens_at, p.closes_at, self.clock.now()) {
            PollPhase::NotOpen => {
                return Err(AppError::Conflict("the poll is not open yet".into()));
            }
            PollPhase::Closed => return Err(AppError::Conflict("the poll is closed".into())),
            PollPhase::Open => {}
        }
        check_choices(p.ballot, p.options.len(), choices)
            .map_err(|e| AppError::Unprocessable(vec![("choices".to_owned(), e)]))?;
        if !self
            .repo
            .cast_vote(poll, &code_digest(self, poll, code), choices)
            .await?
        {
            return Err(AppError::Forbidden(
                "this code is not valid for the poll or was used already".into(),
            ));
        }
        Ok(())
    }
}
