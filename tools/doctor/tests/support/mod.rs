pub mod cbor_proxy;
