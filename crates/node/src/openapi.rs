//! The node's OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` attributes
//! and the body types in [`cairn_compute::api`]; served at [`OPENAPI_PATH`].
//!
//! Errors every operation can answer (a malformed request, a missing resource, a body over
//! the limit, a bad signature, an internal failure) are added here once, so each handler
//! documents only what is particular to it.
use crate::{error::ErrorBody, http};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        self,
        security::{ApiKey, ApiKeyValue, SecurityScheme},
    },
};

/// Where the node serves its OpenAPI document.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// The security scheme of signed requests (the `x-cairn-auth` header).
pub(crate) const SIGNED: &str = "signedRequest";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cairn compute node",
        description = "Jobs, providers, leases and blobs of a Cairn compute market. Writes that act for a provider or requester are signed: `x-cairn-auth: <address>:<unix ms>:<0x EIP-191 signature of \"cairn-node-request\\n<METHOD> <path>\\n<unix ms>\\n<hex SHA-256 of the body>\">`, each accepted once. Every error is JSON `{\"error\": <code>, \"detail\": <what was wrong>}`."
    ),
    paths(
        http::info,
        http::put_blob,
        http::get_blob,
        http::submit,
        http::jobs,
        http::job,
        http::logs,
        http::spec,
        http::cancel,
        http::started,
        http::result,
        http::release,
        http::progress,
        http::advertise,
        http::providers,
        http::provider,
        http::heartbeat,
        http::claim,
        http::calibration,
        http::events,
        http::openapi_json,
        crate::agent_api::status,
        crate::agent_api::decisions,

        http::metrics,
    ),
    components(schemas(ErrorBody)),
    modifiers(&CommonErrors),
    tags(
        (name = "node", description = "The node itself"),
        (name = "jobs", description = "Submitting and following jobs"),
        (name = "providers", description = "Providers: offers, heartbeats, leases and results"),
        (name = "blobs", description = "The content-addressed blob store (modules, inputs, outputs)"),
        (name = "events", description = "The live event stream"),
        (name = "agent", description = "The wallet agent this node serves (read only, from its state)"),
    )
)]
struct NodeApi;

/// The node's OpenAPI document.
pub fn document() -> openapi::OpenApi {
    NodeApi::openapi()
}

/// The document as served (built once).
pub(crate) fn document_json() -> &'static str {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        document()
            .to_json()
            .expect("an OpenAPI document serializes")
    })
}

/// Adds the signed-request scheme and the error answers shared by every operation.
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SIGNED,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                cairn_compute::api::AUTH_HEADER,
                "<address>:<unix ms>:<0x signature>: an EIP-191 personal-sign signature of the \
                 request (method, path, time, body SHA-256) by the acting account's key",
            ))),
        );
        cairn_log_server::add_common_errors(
            doc,
            &[SIGNED],
            "Unsigned, badly signed, stale, replayed, or signed by the wrong account",
        );
        // Every write is metered per client address and per signing key.
        for item in doc.paths.paths.values_mut() {
            for op in [item.put.as_mut(), item.post.as_mut()]
                .into_iter()
                .flatten()
            {
                op.responses
                    .responses
                    .entry("429".to_owned())
                    .or_insert_with(|| {
                        openapi::ResponseBuilder::new()
                            .description(
                                "Over the write budget of the client address or signing key (Retry-After)",
                            )
                            .content(
                                "application/json",
                                openapi::Content::new(Some(openapi::Ref::from_schema_name(
                                    "ErrorBody",
                                ))),
                            )
                            .build()
                            .into()
                    });
            }
        }
    }
}
