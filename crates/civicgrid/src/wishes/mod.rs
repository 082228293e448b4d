//! Small wishes (微心愿): a resident posts a wish (or a grid worker posts it for them), the
//! community board shows it without personal data, a registered member or volunteer of the
//! community claims it — one at a time —, delivers it with a note and an optional photo, and
//! the resident confirms with the wish's number and the secret issued with it, as with cases.
//! A wish nobody takes on within `UNCLAIMED_DAYS` goes up to the community (`jobs.rs`).
//! Every change is an event in the transaction of the change; fulfilment counts in the
//! assessment (`kpi.rs`).
//!
//! Service here; `rest.rs` + `views.rs` (`/api/v1/wishes`), `pages.rs` (the community board
//! and the wish pages), `jobs.rs`, `kpi.rs`.

pub mod jobs;
pub mod kpi;
pub mod pages;
pub mod rest;
pub mod views;

use civicgrid_domain::policy::Actor;
use civicgrid_domain::territory::{GridCode, RegionCode, RegionLevel};
use civicgrid_domain::wish::{WishAction, WishState, WishStatus, decide};
use civicgrid_store::{WishEvent, WishRecord};

use crate::App;
use crate::error::{AppError, AppResult};

/// Days a wish may wait for a taker before it goes up to the community.
pub const UNCLAIMED_DAYS: i64 = 7;

/// A wish as a resident writes it.
#[derive(Debug, Clone)]
pub struct NewWish {
    pub community: RegionCode,
    pub grid: Option<GridCode>,
    pub title: String,
    pub description: String,
}

/// A posted wish and the secret the resident confirms it with (shown once).
pub struct WishReceipt {
    pub wish: WishRecord,
    pub secret: String,
}

fn unprocessable(field: &str, message: impl Into<String>) -> AppError {
    AppError::Unprocessable(vec![(field.to_owned(), message.into())])
}

fn state(w: &WishRecord) -> WishState {
    WishState {
        status: w.status,
        claimed_by: w.claimed_by.clone(),
        escalated: w.escalated,
    }
}

impl App {
    /// Posts a wish: by a resident, or by staff who follow up wishes in the community on a
    /// resident's behalf. Returns the number and the secret for the resident's confirmation.
    pub async fn post_wish(&self, actor: &Actor, new: NewWish) -> AppResult<WishReceipt> {
        let reference = self.reference().await?;
        // Staff who follow up wishes there post on a resident's behalf, under their name;
        // anyone else who posts (a volunteer's account, say) is a resident posting.
        let posted_by = match actor {
            Actor::Staff { username, .. }
                if reference
                    .policy()
                    .may_manage_wishes(actor, &new.community)
                    .is_ok() =>
            {
                username.clone()
            }
            _ => "resident".to_owned(),
        };
        let mut problems = Vec::new();
        if new.community.level() != RegionLevel::Community
            || !reference.region_names.contains_key(&new.community)
        {
            problems.push((
                "community".to_owned(),
                format!("{} is not a community of this platform", new.community),
            ));
        }
        if let Some(g) = &new.grid
            && reference.grid_regions.get(g) != Some(&new.community)
        {
            problems.push((
                "grid".to_owned(),
                format!("{g} is not a grid of {}", new.community),
            ));
        }
        let title = new.title.trim().to_owned();
        if title.is_empty() || title.chars().count() > 60 {
            problems.push(("title".to_owned(), "1 to 60 characters".to_owned()));
        }
        let description = new.description.trim().to_owned();
        if description.chars().count() > 500 {
            problems.push((
                "description".to_owned(),
                "at most 500 characters".to_owned(),
            ));
        }
        if !problems.is_empty() {
            return Err(AppError::Unprocessable(problems));
        }
        let now = self.clock.now();
        for _attempt in 0..5 {
            let id = self.ids.new_id(now);
            let secret = civicgrid_domain::case::reporter_secret(self.ids.random_bits());
            let wish = WishRecord {
                id,
                public_id: civicgrid_domain::case::public_id(self.ids.random_bits()),
                reporter_key: Some(crate::cases::seal::reporter_key(
                    self.sealer.as_deref(),
                    &id,
                    &secret,
                )),
                region: new.community.clone(),
                grid: new.grid.clone(),
                title: title.clone(),
                description: description.clone(),
                posted_by: posted_by.clone(),
                posted_at: now,
                status: WishStatus::Open,
                claimed_by: None,
                escalated: false,
                delivery_note: None,
                fulfilled_at: None,
                version: 0,
            };
            let event = WishEvent {
                seq: 0,
                at: now,
                actor: posted_by.clone(),
                action: "post".into(),
                note: String::new(),
            };
            match self.repo.create_wish(&wish, &event).await {
                // A public number drawn twice (60 random bits): draw again.
                Err(civicgrid_store::StoreError::Conflict(_)) => continue,
                other => other?,
            }
            return Ok(WishReceipt { wish, secret });
        }
        Err(AppError::Invalid(
            "could not draw a free wish number".into(),
        ))
    }

    /// A wish by its public number.
    pub async fn wish(&self, public_id: &str) -> AppResult<WishRecord> {
        let code = public_id.trim().to_ascii_uppercase();
        self.repo
            .wish_by_public_id(&code)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("wish {public_id}")))
    }

    /// The community board's wishes (public: no personal data is in them), newest first.
    pub async fn board_wishes(
        &self,
        community: &RegionCode,
        statuses: &[WishStatus],
        limit: u32,
    ) -> AppResult<Vec<WishRecord>> {
        Ok(self
            .repo
            .wishes(community, statuses, limit.min(500))
            .await?)
    }

    /// Changes a wish, the event in the same transaction; a concurrent change wins and this
    /// one is refused as stale.
    async fn change_wish(
        &self,
        w: &WishRecord,
        action: &WishAction,
        actor: &str,
        held: usize,
    ) -> AppResult<WishRecord> {
        let next = decide(&state(w), action, held).map_err(AppError::Conflict)?;
        let now = self.clock.now();
        let mut changed = w.clone();
        changed.status = next.status;
        changed.claimed_by = next.claimed_by;
        changed.escalated = next.escalated;
        let note = match action {
            WishAction::Deliver { note, .. } => {
                changed.delivery_note = Some(note.trim().to_owned());
                note.trim().to_owned()
            }
            WishAction::Dispute { note } | WishAction::Withdraw { reason: note } => {
                note.trim().to_owned()
            }
            _ => String::new(),
        };
        if changed.status == WishStatus::Fulfilled {
            changed.fulfilled_at = Some(now);
        }
        if note.chars().count() > 500 {
            return Err(unprocessable("note", "at most 500 characters"));
        }
        let seq = self.repo.wish_events(&w.id).await?.len() as u64;
        let event = WishEvent {
            seq,
            at: now,
            actor: actor.to_owned(),
            action: action.name().to_owned(),
            note,
        };
        match self.repo.update_wish(&changed, w.version, &event).await {
            Err(civicgrid_store::StoreError::Stale { current }) => {
                return Err(AppError::Stale { current });
            }
            other => other?,
        }
        changed.version = w.version + 1;
        Ok(changed)
    }

    /// A member or volunteer of the wish's community takes it on (one at a time).
    pub async fn claim_wish(&self, actor: &Actor, public_id: &str) -> AppResult<WishRecord> {
        let w = self.wish(public_id).await?;
        if !self.communities_of(actor).await?.contains(&w.region) {
            return Err(AppError::Forbidden(
                "wishes are taken on by members and volunteers registered with the community"
                    .into(),
            ));
        }
        let held = self.repo.wishes_held_by(actor.name()).await?.len();
        let claimed = self
            .change_wish(
                &w,
                &WishAction::Claim {
                    by: actor.name().to_owned(),
                },
                actor.name(),
                held,
            )
            .await?;
        // Two claims sent at once each saw nothing held: the one of the lower wish id stands,
        // the other is given back, so that one wish at a time holds without a lock.
        let holding = self.repo.wishes_held_by(actor.name()).await?;
        if holding.iter().any(|h| h.id < claimed.id) {
            self.change_wish(
                &claimed,
                &WishAction::Release {
                    by: actor.name().to_owned(),
                },
                actor.name(),
                0,
            )
            .await?;
            return Err(AppError::Conflict(
                "finish the wish you hold before taking on another".into(),
            ));
        }
        Ok(claimed)
    }

    /// The claimant gives the wish back.
    pub async fn release_wish(&self, actor: &Actor, public_id: &str) -> AppResult<WishRecord> {
        let w = self.wish(public_id).await?;
        self.change_wish(
            &w,
            &WishAction::Release {
                by: actor.name().to_owned(),
            },
            actor.name(),
            0,
        )
        .await
    }

    /// The claimant reports the wish done, with a note and optionally a photo.
    pub async fn deliver_wish(
        &self,
        actor: &Actor,
        public_id: &str,
        note: &str,
        photo: Option<(String, Vec<u8>)>,
    ) -> AppResult<WishRecord> {
        let w = self.wish(public_id).await?;
        let action = WishAction::Deliver {
            by: actor.name().to_owned(),
            note: note.to_owned(),
        };
        // Only the claimant's photo is kept, and it is kept before the wish is marked
        // delivered: a failed write leaves the wish as it was, to be delivered again.
        decide(&state(&w), &action, 0).map_err(AppError::Conflict)?;
        if let Some((content_type, bytes)) = &photo {
            crate::cases::check_photo(content_type, bytes)?;
            self.repo
                .save_wish_photo(&w.id, content_type, bytes)
                .await?;
        }
        self.change_wish(&w, &action, actor.name(), 0).await
    }

    /// Staff who follow up wishes in the community withdraw one (a duplicate, the resident
    /// moved away), with the reason.
    pub async fn withdraw_wish(
        &self,
        actor: &Actor,
        public_id: &str,
        reason: &str,
    ) -> AppResult<WishRecord> {
        let w = self.wish(public_id).await?;
        self.reference()
            .await?
            .policy()
            .may_manage_wishes(actor, &w.region)
            .map_err(AppError::Forbidden)?;
        self.change_wish(
            &w,
            &WishAction::Withdraw {
                reason: reason.to_owned(),
            },
            actor.name(),
            0,
        )
        .await
    }

    /// The resident confirms a delivered wish (`fulfilled`), or says what is still missing:
    /// with the number and the secret. Every attempt counts against the caller's lookups; a
    /// wrong secret and an unknown number get the same refusal.
    pub async fn confirm_wish(
        &self,
        public_id: &str,
        secret: &str,
        fulfilled: bool,
        note: &str,
        from: &crate::accounts::limits::ClientAddr,
    ) -> AppResult<WishRecord> {
        self.count_lookup(from).await?;
        let refused = || AppError::Forbidden("this number and secret do not match a wish".into());
        let w = self.wish(public_id).await.map_err(|_| refused())?;
        let given =
            civicgrid_domain::case::normalize_reporter_secret(secret).ok_or_else(refused)?;
        let expected = crate::cases::seal::reporter_key(self.sealer.as_deref(), &w.id, &given);
        let kept = w.reporter_key.clone().unwrap_or_default();
        let same = kept.len() == expected.len()
            && kept
                .bytes()
                .zip(expected.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return Err(refused());
        }
        let action = if fulfilled {
            WishAction::Confirm
        } else {
            WishAction::Dispute {
                note: note.to_owned(),
            }
        };
        self.change_wish(&w, &action, "resident", 0).await
    }

    /// A wish's changes, oldest first (staff who follow up wishes there, or its claimant).
    pub async fn wish_history(
        &self,
        actor: &Actor,
        public_id: &str,
    ) -> AppResult<(WishRecord, Vec<WishEvent>)> {
        let w = self.wish(public_id).await?;
        let own =
            w.claimed_by.as_deref() == Some(actor.name()) && matches!(actor, Actor::Staff { .. });
        if !own {
            self.reference()
                .await?
                .policy()
                .may_manage_wishes(actor, &w.region)
                .map_err(AppError::Forbidden)?;
        }
        let events = self.repo.wish_events(&w.id).await?;
        Ok((w, events))
    }

    /// The delivery photo (public, as the board shows the wish; residents see it was done).
    pub async fn wish_photo(&self, public_id: &str) -> AppResult<(String, Vec<u8>)> {
        let w = self.wish(public_id).await?;
        self.repo
            .wish_photo(&w.id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("photo of wish {public_id}")))
    }

    /// The wish the signed-in member or volunteer holds, if any.
    pub async fn my_wishes(&self, actor: &Actor) -> AppResult<Vec<WishRecord>> {
        Ok(self.repo.wishes_held_by(actor.name()).await?)
    }

    /// Sends every wish unclaimed for `UNCLAIMED_DAYS` up to its community (once each).
    pub async fn escalate_unclaimed_wishes(&self) -> AppResult<u64> {
        let before = self.clock.now() - jiff::SignedDuration::from_hours(24 * UNCLAIMED_DAYS);
        let mut n = 0;
        for w in self.repo.unclaimed_wishes(before, 500).await? {
            match self
                .change_wish(&w, &WishAction::Escalate, "system", 0)
                .await
            {
                Ok(_) => n += 1,
                // Claimed or escalated meanwhile by someone else: nothing to do.
                Err(AppError::Stale { .. } | AppError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }
}
