//! SMS request signing for the providers a Chinese deployment uses: Tencent Cloud's API v3
//! (TC3-HMAC-SHA256) and Alibaba Cloud's SMS API (RPC style, HMAC-SHA1). Each is checked
//! against the worked example in the provider's own documentation. (The senders that use
//! them, the generic HTTP gateway and the one trait over all three come next; see
//! docs/ARCHITECTURE.md.)

use std::collections::BTreeMap;

use base64::Engine;
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
}
