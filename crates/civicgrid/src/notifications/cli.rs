//! How `serve` is told to send messages: the mail server, the sender, the address the links
//! point to, and the quiet hours, from flags or the environment.

use civicgrid_domain::notification::QuietHours;

use super::NotifierSettings;
use crate::error::{AppError, AppResult};

#[derive(clap::Args, Debug, Clone)]
pub struct NotifyArgs {
    /// The mail server for e-mail to reporters and staff: smtp://HOST:PORT (plain, a local
    /// relay), smtp://HOST:587?tls=required (STARTTLS), smtps://HOST:465 (TLS), with
    /// USER:PASSWORD@ if it asks. Without it no e-mail is written.
    #[arg(long, env = "CIVICGRID_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Who e-mail comes from.
    #[arg(
        long,
        env = "CIVICGRID_SMTP_FROM",
        default_value = "civicgrid <noreply@civicgrid.localhost>"
    )]
    pub smtp_from: String,
    /// The platform's address as residents reach it, for the links in messages (default:
    /// http:// and the --listen address).
    #[arg(long, env = "CIVICGRID_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The language of messages: zh-CN or en.
    #[arg(long, env = "CIVICGRID_NOTIFY_LANGUAGE", default_value = "zh-CN")]
    pub notify_language: String,
    /// Non-urgent staff notices wait through these hours: HH:MM-HH:MM (the calendar's time
    /// zone); equal ends for none.
    #[arg(long, env = "CIVICGRID_QUIET_HOURS", default_value = "22:00-07:00")]
    pub quiet_hours: String,
    /// The SMS provider's settings (TOML: Tencent Cloud, Alibaba Cloud or an HTTP gateway;
    /// see docs/sms.example.toml). Without it no SMS is written.
    #[arg(long, env = "CIVICGRID_SMS_CONFIG")]
    pub sms_config: Option<std::path::PathBuf>,
    /// A PEM file of certificate authorities trusted for https webhooks, SMS gateways and the
    /// Open311 link, beside the Mozilla roots (a government intranet's own CA).
    #[arg(long, env = "CIVICGRID_TLS_CA")]
    pub tls_ca: Option<std::path::PathBuf>,
}

impl NotifyArgs {
    /// The client for requests to other systems, trusting `--tls-ca` too.
    pub fn outbound(&self) -> AppResult<crate::outbound::Outbound> {
        let Some(path) = &self.tls_ca else {
            return Ok(crate::outbound::Outbound::default());
        };
        let pem = std::fs::read(path)
            .map_err(|e| AppError::Invalid(format!("--tls-ca {}: {e}", path.display())))?;
        crate::outbound::Outbound::trusting(&pem)
            .map_err(|e| AppError::Invalid(format!("--tls-ca {}: {e}", path.display())))
    }

    /// The settings, checked; `listen` is the address served, for the default public URL.
    pub fn settings(self, listen: &str) -> AppResult<NotifierSettings> {
        let mailer = match &self.smtp_url {
            Some(url) if !url.trim().is_empty() => Some(
                super::email::Mailer::new(url.trim(), &self.smtp_from)
                    .map_err(AppError::Invalid)?,
            ),
            _ => None,
        };
        let public_url = match self.public_url {
            Some(url) => {
                let url = url.trim().trim_end_matches('/').to_owned();
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(AppError::Invalid(format!(
                        "--public-url must start with http:// or https://: {url}"
                    )));
                }
                url
            }
            None => format!("http://{listen}"),
        };
        if !super::templates::LANGUAGES.contains(&self.notify_language.as_str()) {
            return Err(AppError::Invalid(format!(
                "--notify-language must be one of {}",
                super::templates::LANGUAGES.join(", ")
            )));
        }
        let sms = match &self.sms_config {
            Some(path) => {
                let name = path.display().to_string();
                let text = std::fs::read_to_string(path)
                    .map_err(|e| AppError::Invalid(format!("--sms-config {name}: {e}")))?;
                Some(super::sms::SmsConfig::parse(&name, &text).map_err(AppError::Invalid)?)
            }
            None => None,
        };
        Ok(NotifierSettings {
            sms,
            mailer,
            public_url,
            language: self.notify_language,
            quiet_hours: parse_quiet_hours(&self.quiet_hours)?,
        })
    }
}

fn parse_quiet_hours(text: &str) -> AppResult<QuietHours> {
    let bad = || {
        AppError::Invalid(format!(
            "--quiet-hours must be HH:MM-HH:MM (e.g. 22:00-07:00): {text}"
        ))
    };
    let (start, end) = text.trim().split_once('-').ok_or_else(bad)?;
    let time = |t: &str| t.trim().parse::<jiff::civil::Time>().map_err(|_| bad());
    Ok(QuietHours {
        start: time(start)?,
        end: time(end)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(smtp: Option<&str>, public: Option<&str>, quiet: &str) -> NotifyArgs {
        NotifyArgs {
            smtp_url: smtp.map(str::to_owned),
            smtp_from: "平台 <noreply@example.org>".into(),
            public_url: public.map(str::to_owned),
            notify_language: "zh-CN".into(),
            quiet_hours: quiet.into(),
            tls_ca: None,
            sms_config: None,
        }
    }

    #[tokio::test]
    async fn settings_are_checked() {
        let s = args(Some("smtp://127.0.0.1:2525"), None, "22:00-07:00")
            .settings("0.0.0.0:8080")
            .expect("fine");
        assert_eq!(s.public_url, "http://0.0.0.0:8080");
        assert_eq!(
            s.mailer.as_ref().map(|m| m.server.as_str()),
            Some("smtp://127.0.0.1:2525")
        );
        assert_eq!(s.quiet_hours, QuietHours::default());
        let s = args(None, Some("https://jiedao.example.cn/"), "00:00-00:00")
            .settings("x")
            .expect("fine");
        assert!(s.mailer.is_none());
        assert_eq!(s.public_url, "https://jiedao.example.cn");
        for (smtp, public, quiet) in [
            (Some("http://mail:25"), None, "22:00-07:00"),
            (None, Some("jiedao.example.cn"), "22:00-07:00"),
            (None, None, "22-7"),
            (None, None, "25:00-07:00"),
        ] {
            assert!(
                args(smtp, public, quiet).settings("x").is_err(),
                "{smtp:?} {public:?} {quiet}"
            );
        }
    }
}
