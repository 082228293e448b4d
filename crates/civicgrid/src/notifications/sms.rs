//! SMS through one interface over every provider ([`SmsProvider`]): Tencent Cloud SMS (API
//! v3, TC3-HMAC-SHA256), Alibaba Cloud SMS (RPC style, HMAC-SHA1) and a generic HTTP gateway
//! configured by a URL template (a government SMS platform, an operator's gateway). Each
//! provider only writes the request and reads the answer; the notifier sends it through the
//! one outgoing client (`outbound.rs`), so signing and answer handling are tested without a
//! network, and the signing against the worked examples in the providers' documentation.
//!
//! The deployment names its provider in a TOML file (`serve --sms-config`): see
//! [`SmsConfig`] and docs/sms.example.toml. Tencent and Alibaba send only templates approved
//! beforehand, so each topic names its template and which of the message's variables fill
//! its parameters; the HTTP gateway sends the rendered text.

use std::collections::BTreeMap;

use base64::Engine;
use serde::Deserialize;

use super::email::Failure;
use crate::outbound::{Answer, Request};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac_sha256(key: &[u8], data: &str) -> Vec<u8> {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// A Tencent Cloud API v3 POST request to be signed.
#[derive(Debug, Clone)]
pub struct Tc3Request<'a> {
    pub secret_id: &'a str,
    pub secret_key: &'a str,
    /// The product (`sms`, `cvm`), the first label of the host.
    pub service: &'a str,
    pub host: &'a str,
    /// `application/json; charset=utf-8`.
    pub content_type: &'a str,
    /// Seconds since the epoch; the credential's date is its UTC day.
    pub timestamp: i64,
    /// The JSON body exactly as sent.
    pub payload: &'a str,
}

/// The `Authorization` header of a TC3-HMAC-SHA256 request signed over `content-type` and
/// `host`, as Tencent Cloud's "Signature v3" documentation computes it.
pub fn tc3_authorization(r: &Tc3Request<'_>) -> String {
    let date = jiff::Timestamp::from_second(r.timestamp)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let signed_headers = "content-type;host";
    let canonical = format!(
        "POST\n/\n\ncontent-type:{}\nhost:{}\n\n{signed_headers}\n{}",
        r.content_type,
        r.host,
        hex(&Sha256::digest(r.payload.as_bytes()))
    );
    let scope = format!("{date}/{}/tc3_request", r.service);
    let to_sign = format!(
        "TC3-HMAC-SHA256\n{}\n{scope}\n{}",
        r.timestamp,
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let secret_date = hmac_sha256(format!("TC3{}", r.secret_key).as_bytes(), &date);
    let secret_service = hmac_sha256(&secret_date, r.service);
    let secret_signing = hmac_sha256(&secret_service, "tc3_request");
    let signature = hex(&hmac_sha256(&secret_signing, &to_sign));
    format!(
        "TC3-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        r.secret_id
    )
}

/// RFC 3986 percent-encoding as Alibaba Cloud's RPC signature wants it: everything but
/// `A-Z a-z 0-9 - _ . ~` is encoded, a space as `%20`.
pub fn aliyun_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The sorted, encoded query of an Alibaba Cloud RPC request (without its signature).
pub fn aliyun_query(params: &BTreeMap<String, String>) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", aliyun_encode(k), aliyun_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The `Signature` of an Alibaba Cloud RPC request (HMAC-SHA1, signature version 1.0) made
/// with `method` over `params`, keyed by the AccessKey secret followed by `&`.
pub fn aliyun_signature(secret: &str, method: &str, params: &BTreeMap<String, String>) -> String {
    let to_sign = format!(
        "{method}&{}&{}",
        aliyun_encode("/"),
        aliyun_encode(&aliyun_query(params))
    );
    let Ok(mut mac) = <Hmac<sha1::Sha1> as Mac>::new_from_slice(format!("{secret}&").as_bytes())
    else {
        return String::new();
    };
    mac.update(to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// One text message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sms<'a> {
    /// The outbox id: the provider's own reference for the message, so a repeat after a crash
    /// can be recognised.
    pub id: &'a str,
    /// The number as the person gave it.
    pub phone: &'a str,
    /// What the message is about (`case_accepted`, `verification_code`, …).
    pub topic: &'a str,
    /// The rendered text (what a gateway sends).
    pub text: &'a str,
    /// The message's variables, for providers that fill an approved template.
    pub values: &'a BTreeMap<String, String>,
}

/// What every SMS provider does: write the request that sends a message, and read its
/// answer. Neither touches the network.
pub trait SmsProvider: Send + Sync + std::fmt::Debug {
    /// The provider's name, for the status page and logs.
    fn name(&self) -> &'static str;
    /// The request that sends `sms`, signed at `now` (seconds since the epoch) with `nonce`.
    fn request(&self, sms: &Sms<'_>, now: i64, nonce: &str) -> Result<Request, Failure>;
    /// Whether the answer means sent, or a failure (permanent or worth another try).
    fn outcome(&self, answer: &Answer) -> Result<(), Failure>;
}

/// A provider template and which variables fill its parameters, in order.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProviderTemplate {
    pub id: String,
    #[serde(default)]
    pub params: Vec<String>,
}

fn template_for<'a>(
    templates: &'a BTreeMap<String, ProviderTemplate>,
    sms: &Sms<'_>,
) -> Result<&'a ProviderTemplate, Failure> {
    templates.get(sms.topic).ok_or_else(|| {
        Failure::permanent(format!(
            "the SMS configuration names no provider template for {}",
            sms.topic
        ))
    })
}

fn template_values(template: &ProviderTemplate, sms: &Sms<'_>) -> Result<Vec<String>, Failure> {
    template
        .params
        .iter()
        .map(|p| {
            sms.values
                .get(p)
                .cloned()
                .ok_or_else(|| Failure::permanent(format!("{} offers no variable {p}", sms.topic)))
        })
        .collect()
}

/// A mainland number as E.164 (`+8613800138000`); a number with `+` is kept as it is.
pub fn e164(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    if phone.trim_start().starts_with('+') {
        format!("+{digits}")
    } else if let Some(rest) = digits.strip_prefix("0086") {
        format!("+86{rest}")
    } else if digits.len() == 13 && digits.starts_with("86") {
        format!("+{digits}")
    } else {
        format!("+86{digits}")
    }
}

/// Tencent Cloud SMS (`SendSms`, API version 2021-01-11).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TencentSms {
    pub secret_id: String,
    pub secret_key: String,
    pub sdk_app_id: String,
    pub sign_name: String,
    #[serde(default = "TencentSms::default_region")]
    pub region: String,
    #[serde(default = "TencentSms::default_endpoint")]
    pub endpoint: String,
    pub templates: BTreeMap<String, ProviderTemplate>,
}

impl TencentSms {
    fn default_region() -> String {
        "ap-guangzhou".into()
    }
    fn default_endpoint() -> String {
        "https://sms.tencentcloudapi.com".into()
    }
}

impl SmsProvider for TencentSms {
    fn name(&self) -> &'static str {
        "tencent"
    }

    fn request(&self, sms: &Sms<'_>, now: i64, _nonce: &str) -> Result<Request, Failure> {
        let template = template_for(&self.templates, sms)?;
        let payload = serde_json::json!({
            "PhoneNumberSet": [e164(sms.phone)],
            "SmsSdkAppId": self.sdk_app_id,
            "SignName": self.sign_name,
            "TemplateId": template.id,
            "TemplateParamSet": template_values(template, sms)?,
            "SessionContext": sms.id,
        })
        .to_string();
        let target = crate::outbound::Target::parse(&self.endpoint).map_err(Failure::permanent)?;
        let content_type = "application/json; charset=utf-8";
        let authorization = tc3_authorization(&Tc3Request {
            secret_id: &self.secret_id,
            secret_key: &self.secret_key,
            service: "sms",
            host: &target.authority,
            content_type,
            timestamp: now,
            payload: &payload,
        });
        Ok(
            Request::post(&self.endpoint, content_type, payload.into_bytes())
                .header("authorization", authorization)
                .header("x-tc-action", "SendSms")
                .header("x-tc-version", "2021-01-11")
                .header("x-tc-timestamp", now.to_string())
                .header("x-tc-region", self.region.as_str()),
        )
    }

    fn outcome(&self, answer: &Answer) -> Result<(), Failure> {
        if answer.status >= 500 {
            return Err(Failure::later(format!(
                "Tencent Cloud: HTTP {}",
                answer.status
            )));
        }
        let body: serde_json::Value = serde_json::from_slice(&answer.body).map_err(|_| {
            Failure::later(format!(
                "Tencent Cloud: HTTP {}, not JSON: {}",
                answer.status,
                answer.excerpt()
            ))
        })?;
        let response = &body["Response"];
        if let Some(error) = response.get("Error") {
            let code = error["Code"].as_str().unwrap_or_default();
            let reason = format!(
                "Tencent Cloud: {code}: {}",
                error["Message"].as_str().unwrap_or_default()
            );
            // Limits and the provider's own troubles pass; a refused key, template, signature
            // or number does not.
            return Err(
                if code.starts_with("LimitExceeded")
                    || code.starts_with("RequestLimitExceeded")
                    || code.starts_with("InternalError")
                {
                    Failure::later(reason)
                } else {
                    Failure::permanent(reason)
                },
            );
        }
        let status = &response["SendStatusSet"][0];
        match status["Code"].as_str() {
            Some("Ok") => Ok(()),
            Some(code) => {
                let reason = format!(
                    "Tencent Cloud: {code}: {}",
                    status["Message"].as_str().unwrap_or_default()
                );
                Err(if code.starts_with("LimitExceeded") {
                    Failure::later(reason)
                } else {
                    Failure::permanent(reason)
                })
            }
            None => Err(Failure::later(format!(
                "Tencent Cloud: an answer without a send status: {}",
                answer.excerpt()
            ))),
        }
    }
}

/// Alibaba Cloud SMS (`SendSms`, API version 2017-05-25), signed RPC style.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AliyunSms {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub sign_name: String,
    #[serde(default = "AliyunSms::default_region")]
    pub region: String,
    #[serde(default = "AliyunSms::default_endpoint")]
    pub endpoint: String,
    pub templates: BTreeMap<String, ProviderTemplate>,
}

impl AliyunSms {
    fn default_region() -> String {
        "cn-hangzhou".into()
    }
    fn default_endpoint() -> String {
        "https://dysmsapi.aliyuncs.com".into()
    }
}

impl SmsProvider for AliyunSms {
    fn name(&self) -> &'static str {
        "aliyun"
    }

    fn request(&self, sms: &Sms<'_>, now: i64, nonce: &str) -> Result<Request, Failure> {
        let template = template_for(&self.templates, sms)?;
        let values = template_values(template, sms)?;
        let param: serde_json::Map<String, serde_json::Value> = template
            .params
            .iter()
            .cloned()
            .zip(values.into_iter().map(serde_json::Value::String))
            .collect();
        let timestamp = jiff::Timestamp::from_second(now)
            .map_err(|e| Failure::permanent(e.to_string()))?
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let digits: String = sms.phone.chars().filter(char::is_ascii_digit).collect();
        let mut params: BTreeMap<String, String> = [
            ("AccessKeyId", self.access_key_id.clone()),
            ("Action", "SendSms".into()),
            ("Format", "JSON".into()),
            ("OutId", sms.id.to_owned()),
            ("PhoneNumbers", digits),
            ("RegionId", self.region.clone()),
            ("SignName", self.sign_name.clone()),
            ("SignatureMethod", "HMAC-SHA1".into()),
            ("SignatureNonce", nonce.to_owned()),
            ("SignatureVersion", "1.0".into()),
            ("TemplateCode", template.id.clone()),
            (
                "TemplateParam",
                serde_json::Value::Object(param).to_string(),
            ),
            ("Timestamp", timestamp),
            ("Version", "2017-05-25".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let signature = aliyun_signature(&self.access_key_secret, "POST", &params);
        params.insert("Signature".into(), signature);
        let body = aliyun_query(&params);
        Ok(Request::post(
            &format!("{}/", self.endpoint.trim_end_matches('/')),
            "application/x-www-form-urlencoded",
            body.into_bytes(),
        ))
    }

    fn outcome(&self, answer: &Answer) -> Result<(), Failure> {
        if answer.status >= 500 {
            return Err(Failure::later(format!(
                "Alibaba Cloud: HTTP {}",
                answer.status
            )));
        }
        let body: serde_json::Value = serde_json::from_slice(&answer.body).map_err(|_| {
            Failure::later(format!(
                "Alibaba Cloud: HTTP {}, not JSON: {}",
                answer.status,
                answer.excerpt()
            ))
        })?;
        let code = body["Code"].as_str().unwrap_or_default();
        if code == "OK" {
            return Ok(());
        }
        let reason = format!(
            "Alibaba Cloud: {code}: {}",
            body["Message"].as_str().unwrap_or_default()
        );
        // Flow control and the provider's own errors pass; the rest (key, signature, template,
        // number) will not.
        Err(
            if code.starts_with("isp.")
                || code.starts_with("Throttling")
                || code.contains("LIMIT_CONTROL")
            {
                Failure::later(reason)
            } else {
                Failure::permanent(reason)
            },
        )
    }
}

/// Any HTTP SMS gateway: the URL, and optionally a body, are templates in which `{{phone}}`,
/// `{{text}}` and `{{id}}` are replaced (percent-encoded in the URL and in a form body,
/// escaped in a JSON body).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpGateway {
    pub url: String,
    #[serde(default = "HttpGateway::default_method")]
    pub method: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default = "HttpGateway::default_content_type")]
    pub content_type: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Text a successful answer holds (for gateways that answer 200 to everything).
    #[serde(default)]
    pub success_contains: Option<String>,
}

impl HttpGateway {
    fn default_method() -> String {
        "POST".into()
    }
    fn default_content_type() -> String {
        "application/json; charset=utf-8".into()
    }

    fn fill(template: &str, sms: &Sms<'_>, escape: impl Fn(&str) -> String) -> String {
        template
            .replace("{{phone}}", &escape(sms.phone))
            .replace("{{text}}", &escape(sms.text))
            .replace("{{id}}", &escape(sms.id))
    }

    /// What the configuration is missing or gets wrong.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(e) =
            crate::outbound::Target::parse(&self.url.replace("{{", "").replace("}}", ""))
        {
            out.push(format!("url: {e}"));
        }
        if !matches!(self.method.as_str(), "GET" | "POST" | "PUT") {
            out.push(format!("method: {} is not GET, POST or PUT", self.method));
        }
        let all = format!("{}{}", self.url, self.body.as_deref().unwrap_or_default());
        if !all.contains("{{phone}}") || !all.contains("{{text}}") {
            out.push("url or body must hold {{phone}} and {{text}}".into());
        }
        out
    }
}

impl SmsProvider for HttpGateway {
    fn name(&self) -> &'static str {
        "gateway"
    }

    fn request(&self, sms: &Sms<'_>, _now: i64, _nonce: &str) -> Result<Request, Failure> {
        let url = Self::fill(&self.url, sms, aliyun_encode);
        let body = match &self.body {
            None => Vec::new(),
            Some(template) if self.content_type.contains("json") => {
                Self::fill(template, sms, |v| {
                    let quoted = serde_json::Value::String(v.to_owned()).to_string();
                    quoted[1..quoted.len() - 1].to_owned()
                })
                .into_bytes()
            }
            Some(template) if self.content_type.contains("x-www-form-urlencoded") => {
                Self::fill(template, sms, aliyun_encode).into_bytes()
            }
            Some(template) => Self::fill(template, sms, str::to_owned).into_bytes(),
        };
        let method = hyper::Method::from_bytes(self.method.as_bytes())
            .map_err(|e| Failure::permanent(format!("method {}: {e}", self.method)))?;
        let mut request = Request {
            method,
            url,
            headers: Vec::new(),
            body,
        };
        if self.body.is_some() {
            request = request.header("content-type", self.content_type.as_str());
        }
        for (name, value) in &self.headers {
            request = request.header(name, value.as_str());
        }
        Ok(request)
    }

    fn outcome(&self, answer: &Answer) -> Result<(), Failure> {
        let reason = || format!("gateway: HTTP {}: {}", answer.status, answer.excerpt());
        if answer.status >= 500 || answer.status == 429 || answer.status == 408 {
            return Err(Failure::later(reason()));
        }
        if !answer.is_success() {
            return Err(Failure::permanent(reason()));
        }
        match &self.success_contains {
            Some(mark) if !String::from_utf8_lossy(&answer.body).contains(mark.as_str()) => {
                Err(Failure::permanent(reason()))
            }
            _ => Ok(()),
        }
    }
}

/// The SMS configuration file: the provider and its settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub enum SmsConfig {
    Tencent(TencentSms),
    Aliyun(AliyunSms),
    Gateway(HttpGateway),
}

impl SmsConfig {
    /// Reads and checks the file; every problem names the file.
    pub fn parse(file: &str, text: &str) -> Result<std::sync::Arc<dyn SmsProvider>, String> {
        let config: SmsConfig =
            toml::from_str(text).map_err(|e| format!("{file}: {}", e.message()))?;
        let problems: Vec<String> = match &config {
            SmsConfig::Tencent(t) => endpoint_problems(&t.endpoint, &t.templates),
            SmsConfig::Aliyun(a) => endpoint_problems(&a.endpoint, &a.templates),
            SmsConfig::Gateway(g) => g.problems(),
        };
        if !problems.is_empty() {
            return Err(format!("{file}: {}", problems.join("; ")));
        }
        Ok(match config {
            SmsConfig::Tencent(t) => std::sync::Arc::new(t),
            SmsConfig::Aliyun(a) => std::sync::Arc::new(a),
            SmsConfig::Gateway(g) => std::sync::Arc::new(g),
        })
    }
}

fn endpoint_problems(
    endpoint: &str,
    templates: &BTreeMap<String, ProviderTemplate>,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Err(e) = crate::outbound::Target::parse(endpoint) {
        out.push(format!("endpoint: {e}"));
    }
    for topic in templates.keys() {
        if topic != super::VERIFICATION_TOPIC
            && civicgrid_domain::notification::Topic::parse(topic).is_none()
        {
            out.push(format!("templates.{topic}: no such message"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tencent Cloud, "Signature v3": the CVM DescribeInstances example with the documented
    /// example keys (the version that signs content-type and host).
    #[test]
    fn tc3_matches_tencent_clouds_worked_example() {
        let payload = r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        assert_eq!(
            hex(&Sha256::digest(payload.as_bytes())),
            "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        let auth = tc3_authorization(&Tc3Request {
            secret_id: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
            secret_key: "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            service: "cvm",
            host: "cvm.tencentcloudapi.com",
            content_type: "application/json; charset=utf-8",
            timestamp: 1551113065,
            payload,
        });
        assert_eq!(
            auth,
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
    }

    /// Alibaba Cloud SMS, "签名机制": the SendSms example with testId / testSecret.
    #[test]
    fn aliyun_matches_alibaba_clouds_worked_example() {
        let params: BTreeMap<String, String> = [
            ("AccessKeyId", "testId"),
            ("Action", "SendSms"),
            ("Format", "XML"),
            ("OutId", "123"),
            ("PhoneNumbers", "15300000001"),
            ("RegionId", "cn-hangzhou"),
            ("SignName", "阿里云短信测试专用"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "45e25e9b-0a6f-4070-8c85-2956eda1b466"),
            ("SignatureVersion", "1.0"),
            ("TemplateCode", "SMS_71390007"),
            ("TemplateParam", r#"{"customer":"test"}"#),
            ("Timestamp", "2017-07-12T02:42:19Z"),
            ("Version", "2017-05-25"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(
            aliyun_query(&params),
            "AccessKeyId=testId&Action=SendSms&Format=XML&OutId=123&PhoneNumbers=15300000001&RegionId=cn-hangzhou&SignName=%E9%98%BF%E9%87%8C%E4%BA%91%E7%9F%AD%E4%BF%A1%E6%B5%8B%E8%AF%95%E4%B8%93%E7%94%A8&SignatureMethod=HMAC-SHA1&SignatureNonce=45e25e9b-0a6f-4070-8c85-2956eda1b466&SignatureVersion=1.0&TemplateCode=SMS_71390007&TemplateParam=%7B%22customer%22%3A%22test%22%7D&Timestamp=2017-07-12T02%3A42%3A19Z&Version=2017-05-25"
        );
        let signature = aliyun_signature("testSecret", "GET", &params);
        assert_eq!(signature, "zJDF+Lrzhj/ThnlvIToysFRq6t4=");
        assert_eq!(
            aliyun_encode(&signature),
            "zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D"
        );
        // A wrong secret gives another signature.
        assert_ne!(aliyun_signature("testsecret", "GET", &params), signature);
    }

    #[test]
    fn encoding_keeps_only_the_unreserved_characters() {
        assert_eq!(aliyun_encode("a b*c~d-e_f.g"), "a%20b%2Ac~d-e_f.g");
        assert_eq!(aliyun_encode("验证码"), "%E9%AA%8C%E8%AF%81%E7%A0%81");
    }

    fn values() -> BTreeMap<String, String> {
        [
            ("receipt", "K7QH-3MXR"),
            ("track_link", "https://jd.example.cn/track/K7QH-3MXR"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn sms<'a>(values: &'a BTreeMap<String, String>) -> Sms<'a> {
        Sms {
            id: "0190f1c8-0000-7000-8000-000000000001",
            phone: "138 0013 8000",
            topic: "case_accepted",
            text: "您反映的问题已受理，受理编号K7QH-3MXR \"&=",
            values,
        }
    }

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            body: body.as_bytes().to_vec(),
        }
    }

    const TENCENT: &str = r#"
provider = "tencent"
secret_id = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
secret_key = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
sdk_app_id = "1400006666"
sign_name = "南山街道"
[templates]
case_accepted = { id = "449739", params = ["receipt", "track_link"] }
"#;

    #[test]
    fn numbers_are_written_as_e164() {
        assert_eq!(e164("138 0013 8000"), "+8613800138000");
        assert_eq!(e164("+86 138-0013-8000"), "+8613800138000");
        assert_eq!(e164("008613800138000"), "+8613800138000");
        assert_eq!(e164("8613800138000"), "+8613800138000");
        assert_eq!(e164("+852 6123 4567"), "+85261234567");
    }

    #[test]
    fn tencent_requests_are_signed_and_answers_read() {
        let t: TencentSms = match toml::from_str::<SmsConfig>(TENCENT).expect("config") {
            SmsConfig::Tencent(t) => t,
            other => panic!("{other:?}"),
        };
        let v = values();
        let r = t.request(&sms(&v), 1_765_000_000, "n").expect("request");
        assert_eq!(r.url, "https://sms.tencentcloudapi.com");
        let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(body["PhoneNumberSet"][0], "+8613800138000");
        assert_eq!(body["TemplateId"], "449739");
        assert_eq!(
            body["TemplateParamSet"],
            serde_json::json!(["K7QH-3MXR", "https://jd.example.cn/track/K7QH-3MXR"])
        );
        assert_eq!(
            body["SessionContext"],
            "0190f1c8-0000-7000-8000-000000000001"
        );
        let header = |n: &str| {
            r.headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(header("x-tc-action"), "SendSms");
        assert_eq!(header("x-tc-region"), "ap-guangzhou");
        let payload = String::from_utf8(r.body.clone()).expect("utf-8");
        assert_eq!(
            header("authorization"),
            tc3_authorization(&Tc3Request {
                secret_id: &t.secret_id,
                secret_key: &t.secret_key,
                service: "sms",
                host: "sms.tencentcloudapi.com",
                content_type: "application/json; charset=utf-8",
                timestamp: 1_765_000_000,
                payload: &payload,
            })
        );
        // The answers as Tencent Cloud's SendSms documentation shows them.
        assert_eq!(
            t.outcome(&answer(200, r#"{"Response":{"SendStatusSet":[{"SerialNo":"5000:1045710669157053657849499619","PhoneNumber":"+8613800138000","Fee":1,"SessionContext":"","Code":"Ok","Message":"send success","IsoCode":"CN"}],"RequestId":"a0aabda6-cf91-4f3e-a2a0-6e3f0e4b4cd0"}}"#)),
            Ok(())
        );
        let refused = t
            .outcome(&answer(200, r#"{"Response":{"SendStatusSet":[{"Code":"InvalidParameterValue.IncorrectPhoneNumber","Message":"incorrect number"}]}}"#))
            .expect_err("refused");
        assert!(refused.permanent && refused.reason.contains("IncorrectPhoneNumber"));
        let signature = t
            .outcome(&answer(200, r#"{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"The provided credentials could not be validated."},"RequestId":"x"}}"#))
            .expect_err("refused");
        assert!(signature.permanent);
        let limited = t
            .outcome(&answer(200, r#"{"Response":{"SendStatusSet":[{"Code":"LimitExceeded.PhoneNumberThirtySecondLimit","Message":"30 s"}]}}"#))
            .expect_err("later");
        assert!(!limited.permanent);
        assert!(
            !t.outcome(&answer(502, "bad gateway"))
                .expect_err("later")
                .permanent
        );
        // A topic without a provider template cannot be sent, ever.
        let mut other = sms(&v);
        other.topic = "case_red";
        assert!(
            t.request(&other, 0, "n")
                .expect_err("no template")
                .permanent
        );
    }

    #[test]
    fn aliyun_requests_are_signed_and_answers_read() {
        let config = r#"
provider = "aliyun"
access_key_id = "testId"
access_key_secret = "testSecret"
sign_name = "南山街道"
[templates]
case_accepted = { id = "SMS_71390007", params = ["receipt"] }
"#;
        let a: AliyunSms = match toml::from_str::<SmsConfig>(config).expect("config") {
            SmsConfig::Aliyun(a) => a,
            other => panic!("{other:?}"),
        };
        let v = values();
        let r = a
            .request(
                &sms(&v),
                1_499_827_339,
                "45e25e9b-0a6f-4070-8c85-2956eda1b466",
            )
            .expect("request");
        assert_eq!(r.url, "https://dysmsapi.aliyuncs.com/");
        let body = String::from_utf8(r.body.clone()).expect("form");
        let mut params: BTreeMap<String, String> = BTreeMap::new();
        for pair in body.split('&') {
            let (k, v) = pair.split_once('=').expect("pair");
            params.insert(k.to_owned(), decode(v));
        }
        assert_eq!(params["PhoneNumbers"], "13800138000");
        assert_eq!(params["TemplateParam"], r#"{"receipt":"K7QH-3MXR"}"#);
        assert_eq!(params["Timestamp"], "2017-07-12T02:42:19Z");
        assert_eq!(params["OutId"], "0190f1c8-0000-7000-8000-000000000001");
        let signature = params.remove("Signature").expect("signed");
        assert_eq!(signature, aliyun_signature("testSecret", "POST", &params));
        assert_eq!(
            a.outcome(&answer(200, r#"{"Message":"OK","RequestId":"F655A8D5-B967-440B-8683-DAD6FF8DE990","BizId":"900619746936498440^0","Code":"OK"}"#)),
            Ok(())
        );
        let bad = a
            .outcome(&answer(
                200,
                r#"{"Message":"invalid mobile","Code":"isv.MOBILE_NUMBER_ILLEGAL"}"#,
            ))
            .expect_err("refused");
        assert!(bad.permanent);
        let flow = a
            .outcome(&answer(
                200,
                r#"{"Message":"触发分钟级流控","Code":"isv.BUSINESS_LIMIT_CONTROL"}"#,
            ))
            .expect_err("later");
        assert!(!flow.permanent);
    }

    fn decode(v: &str) -> String {
        let bytes = v.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).expect("hex"));
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn a_gateway_fills_its_templates_escaped() {
        let config = r#"
provider = "gateway"
url = "https://sms.gov.example/send?to={{phone}}&ref={{id}}"
body = '{"mobile": "{{phone}}", "content": "{{text}}"}'
headers = { Authorization = "Bearer s3cret" }
success_contains = '"code":0'
"#;
        let g: HttpGateway = match toml::from_str::<SmsConfig>(config).expect("config") {
            SmsConfig::Gateway(g) => g,
            other => panic!("{other:?}"),
        };
        let v = values();
        let r = g.request(&sms(&v), 0, "n").expect("request");
        assert_eq!(
            r.url,
            "https://sms.gov.example/send?to=138%200013%208000&ref=0190f1c8-0000-7000-8000-000000000001"
        );
        let body: serde_json::Value = serde_json::from_slice(&r.body).expect("valid JSON");
        assert_eq!(
            body["content"],
            "您反映的问题已受理，受理编号K7QH-3MXR \"&="
        );
        assert!(
            r.headers
                .contains(&("Authorization".into(), "Bearer s3cret".into()))
        );
        assert_eq!(g.outcome(&answer(200, r#"{"code":0,"msg":"ok"}"#)), Ok(()));
        assert!(
            g.outcome(&answer(200, r#"{"code":17}"#))
                .expect_err("x")
                .permanent
        );
        assert!(
            g.outcome(&answer(400, "bad number"))
                .expect_err("x")
                .permanent
        );
        assert!(!g.outcome(&answer(503, "busy")).expect_err("x").permanent);
        assert!(
            !g.outcome(&answer(429, "slow down"))
                .expect_err("x")
                .permanent
        );
    }

    #[test]
    fn the_shipped_example_is_a_working_configuration() {
        let example = include_str!("../../../../docs/sms.example.toml");
        assert_eq!(
            SmsConfig::parse("sms.example.toml", example)
                .expect("example")
                .name(),
            "tencent"
        );
    }

    #[test]
    fn configurations_are_checked() {
        assert_eq!(
            SmsConfig::parse("sms.toml", TENCENT).expect("ok").name(),
            "tencent"
        );
        for (bad, says) in [
            ("provider = \"carrier-pigeon\"", "carrier-pigeon"),
            (
                &TENCENT.replace("case_accepted", "case_exploded"),
                "case_exploded",
            ),
            (
                "provider = \"gateway\"\nurl = \"ftp://x/{{phone}}{{text}}\"",
                "url",
            ),
            (
                "provider = \"gateway\"\nurl = \"https://x/send\"",
                "{{phone}}",
            ),
            (&TENCENT.replace("sdk_app_id", "sdk_app"), "sdk_app"),
        ] {
            let e = SmsConfig::parse("sms.toml", bad).expect_err(bad);
            assert!(e.starts_with("sms.toml: ") && e.contains(says), "{e}");
        }
    }
}
