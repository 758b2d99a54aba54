//! The Rust CloudWatch SDK speaks Smithy RPC v2 CBOR; moto's CloudWatch speaks the
//! Query and JSON protocols only (getmoto/moto#9195). This proxy translates: CBOR
//! request → the same operation in moto's JSON protocol → the JSON answer as CBOR.
//! Test-only; timestamps (`…Timestamp` keys) go back as CBOR tag 1, as Smithy expects.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use minicbor::data::{Tag, Type};
use minicbor::{Decoder, Encoder};
use serde_json::{Map, Number, Value};

fn decode(d: &mut Decoder<'_>) -> Result<Value, minicbor::decode::Error> {
    Ok(match d.datatype()? {
        Type::Bool => Value::Bool(d.bool()?),
        Type::Null | Type::Undefined => {
            d.skip()?;
            Value::Null
        }
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => Value::from(d.u64()?),
        Type::I8 | Type::I16 | Type::I32 | Type::I64 | Type::Int => Value::from(d.i64()?),
        Type::F16 | Type::F32 | Type::F64 => {
            let f = match d.datatype()? {
                Type::F16 => f64::from(d.f16()?),
                Type::F32 => f64::from(d.f32()?),
                _ => d.f64()?,
            };
            Number::from_f64(f).map_or(Value::Null, Value::Number)
        }
        Type::String => Value::String(d.str()?.to_owned()),
        Type::Array | Type::ArrayIndef => {
            let mut items = Vec::new();
            match d.array()? {
                Some(n) => {
                    for _ in 0..n {
                        items.push(decode(d)?);
                    }
                }
                None => {
                    while d.datatype()? != Type::Break {
                        items.push(decode(d)?);
                    }
                    d.skip()?;
                }
            }
            Value::Array(items)
        }
        Type::Map | Type::MapIndef => {
            let mut map = Map::new();
            match d.map()? {
                Some(n) => {
                    for _ in 0..n {
                        let k = d.str()?.to_owned();
                        map.insert(k, decode(d)?);
                    }
                }
                None => {
                    while d.datatype()? != Type::Break {
                        let k = d.str()?.to_owned();
                        map.insert(k, decode(d)?);
                    }
                    d.skip()?;
                }
            }
            Value::Object(map)
        }
        Type::Tag => {
            d.tag()?;
            decode(d)?
        }
        _ => {
            d.skip()?;
            Value::Null
        }
    })
}

fn encode(e: &mut Encoder<Vec<u8>>, value: &Value, timestamp: bool) {
    let _ = match value {
        Value::Null => e.null(),
        Value::Bool(b) => e.bool(*b),
        Value::Number(n) if timestamp => {
            let _ = e.tag(Tag::new(1));
            e.f64(n.as_f64().unwrap_or_default())
        }
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => e.u64(u),
            (_, Some(i)) => e.i64(i),
            _ => e.f64(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => e.str(s),
        Value::Array(items) => {
            let _ = e.array(items.len() as u64);
            for item in items {
                encode(e, item, false);
            }
            Ok(&mut *e)
        }
        Value::Object(map) => {
            let _ = e.map(map.len() as u64);
            for (k, v) in map {
                let _ = e.str(k);
                encode(e, v, k.ends_with("Timestamp"));
            }
            Ok(&mut *e)
        }
    };
}

async fn translate(
    State(moto): State<String>,
    Path((service, operation)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let input = match body.is_empty() {
        true => Value::Object(Map::new()),
        false => decode(&mut Decoder::new(&body)).unwrap_or(Value::Null),
    };
    let mut request = reqwest::Client::new()
        .post(format!("{moto}/"))
        .header("X-Amz-Target", format!("{service}.{operation}"))
        .header("Content-Type", "application/x-amz-json-1.0")
        .body(input.to_string());
    if let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        request = request.header("Authorization", auth);
    }
    let (status, output) = match request.send().await {
        Ok(answer) => {
            let status = answer.status().as_u16();
            let text = answer.text().await.unwrap_or_default();
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::Object(Map::new())),
            )
        }
        Err(_) => (502, Value::Object(Map::new())),
    };
    let mut e = Encoder::new(Vec::new());
    encode(&mut e, &output, false);
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
        [
            ("smithy-protocol", "rpc-v2-cbor"),
            ("content-type", "application/cbor"),
        ],
        e.into_writer(),
    )
}

/// Start the proxy in front of `moto`; its endpoint URL.
pub async fn start(moto: &str) -> String {
    let app = Router::new()
        .route("/service/{service}/operation/{operation}", post(translate))
        .with_state(moto.to_owned());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind");
    let address = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{address}")
}
