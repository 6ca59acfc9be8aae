//! SCIM discovery endpoints: `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::scim::{authorize, base_url, into_response, scim_json};
use crate::app::AppState;
use crate::scim::resource::{ScimError, list_response};

pub async fn service_provider_config(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    into_response(
        async {
            let tenant = authorize(&state, &req).await?;
            Ok(scim_json(
                StatusCode::OK,
                &crate::scim::discovery::service_provider_config(&base_url(&state, &tenant)),
            ))
        }
        .await,
    )
}

pub async fn resource_types(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    into_response(
        async {
            let tenant = authorize(&state, &req).await?;
            let types = crate::scim::discovery::resource_types(&base_url(&state, &tenant));
            Ok(scim_json(
                StatusCode::OK,
                &list_response(types.len() as i64, 1, types),
            ))
        }
        .await,
    )
}

pub async fn resource_type(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    into_response(
        async {
            let tenant = authorize(&state, &req).await?;
            let name = req.match_info().get("name").unwrap_or_default();
            crate::scim::discovery::resource_types(&base_url(&state, &tenant))
                .into_iter()
                .find(|t| t.get("id").and_then(Value::as_str) == Some(name))
                .map(|t| scim_json(StatusCode::OK, &t))
                .ok_or_else(|| ScimError::not_found(format!("no resource type {name}")))
        }
        .await,
    )
}

pub async fn schemas(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    into_response(
        async {
            let tenant = authorize(&state, &req).await?;
            let s = crate::scim::discovery::schemas(&base_url(&state, &tenant));
            Ok(scim_json(
                StatusCode::OK,
                &list_response(s.len() as i64, 1, s),
            ))
        }
        .await,
    )
}

pub async fn schema(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    into_response(
        async {
            let tenant = authorize(&state, &req).await?;
            let id = req.match_info().get("id").unwrap_or_default();
            crate::scim::discovery::schemas(&base_url(&state, &tenant))
                .into_iter()
                .find(|s| s.get("id").and_then(Value::as_str) == Some(id))
                .map(|s| scim_json(StatusCode::OK, &s))
                .ok_or_else(|| ScimError::not_found(format!("no schema {id}")))
        }
        .await,
    )
}
