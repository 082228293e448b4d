//! The demo's notifications: its six months of history are not news (nobody is e-mailed
//! about them when the demo is served with a mail server), and a few staff members have
//! chosen e-mail on their profiles, so that what happens next reaches them.

use crate::App;
use crate::error::AppResult;
use crate::notifications::{OwnChannels, StaffAddresses};

/// Staff who chose e-mail in the demo, with their (example) addresses.
const DEMO_CHANNELS: &[(&str, &str)] = &[
    ("handler.swjt", "handler.swjt@example.org"),
    ("dispatcher.st1", "dispatcher.st1@example.org"),
    ("gw.st1c1.1", "gw.st1c1.1@example.org"),
];

pub struct NotificationsDemo {
    pub forgotten: u64,
    pub staff: usize,
}

impl App {
    pub async fn load_demo_notifications(&self) -> AppResult<NotificationsDemo> {
        let now = self.clock.now();
        let forgotten = self
            .repo
            .forget_notification_events(now + jiff::SignedDuration::from_micros(1))
            .await?;
        let mut staff = 0;
        if self.sealer.is_some() {
            for (username, email) in DEMO_CHANNELS {
                let Some(user) = self.repo.user(username).await? else {
                    continue;
                };
                let actor = civicgrid_domain::policy::Actor::Staff {
                    username: user.username,
                    grants: user.grants,
                };
                self.set_own_channels(
                    &actor,
                    OwnChannels {
                        addresses: StaffAddresses {
                            email: Some((*email).to_owned()),
                            phone: None,
                        },
                        email: true,
                        ..Default::default()
                    },
                )
                .await?;
                staff += 1;
            }
        }
        Ok(NotificationsDemo { forgotten, staff })
    }
}
