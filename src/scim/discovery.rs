//! What the endpoint supports, as RFC 7644 §4 has a client discover it: `/ServiceProviderConfig`,
//! `/ResourceTypes`, `/Schemas`. They describe exactly what the `Users` handlers do.

use serde_json::{Value, json};

use crate::org::{Organisation, UsernameFrom};

use super::{
    MAX_RESULTS,
    user::{ENTERPRISE, USER},
};

const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": MAX_RESULTS },
        "changePassword": { "supported": false },
        "sort": { "supported": false },
        "etag": { "supported": false },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "The organisation's provisioning token (octopus-teams scim token --org SLUG)",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        },
    })
}

pub fn user_resource_type(base: &str, org: &Organisation) -> Value {
    let extensions = if uses_enterprise(org) {
        json!([{ "schema": ENTERPRISE, "required": true }])
    } else {
        json!([])
    };
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "An Octopus account",
        "schema": USER,
        "schemaExtensions": extensions,
        "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User") },
    })
}

pub fn resource_types(base: &str, org: &Organisation) -> Value {
    list(vec![user_resource_type(base, org)])
}

/// The enterprise extension is described only where it carries the username; elsewhere it is
/// accepted and ignored, like the other attributes Entra sends by default.
pub fn uses_enterprise(org: &Organisation) -> bool {
    org.provisioning.username == UsernameFrom::EmployeeNumber
}

fn attribute(name: &str, kind: &str, required: bool, case_exact: bool, uniqueness: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "required": required,
        "caseExact": case_exact,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": uniqueness,
    })
}

pub fn user_schema(base: &str) -> Value {
    let mut display_name = attribute("displayName", "string", true, false, "none");
    display_name["description"] = json!(
        "The name mails greet; when absent, name.formatted, else givenName familyName, else the username"
    );
    let mut active = attribute("active", "boolean", true, false, "none");
    active["description"] = json!("false (or a DELETE) disables the account; true when absent");
    let read_only = |name: &str, kind: &str| {
        let mut a = attribute(name, kind, false, false, "none");
        a["mutability"] = json!("readOnly");
        a
    };
    let mut email_value = attribute("value", "string", true, false, "none");
    email_value["description"] = json!("Where reset links are mailed");
    let mut emails = attribute("emails", "complex", true, false, "none");
    emails["multiValued"] = json!(true);
    emails["description"] = json!("One address is kept: the work one, else the primary one");
    emails["subAttributes"] = json!([
        email_value,
        read_only("type", "string"),
        read_only("primary", "boolean"),
    ]);
    let mut language = attribute("preferredLanguage", "string", false, false, "none");
    language["description"] =
        json!("fr, en or pt (any region) sets the account's language; others are not kept");
    language["canonicalValues"] = json!(["fr-CA", "en", "pt"]);
    let mut user_name = attribute("userName", "string", true, false, "server");
    user_name["description"] =
        json!("The UPN; the Octopus username is taken from it as the organisation configures");
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": USER,
        "name": "User",
        "description": "An Octopus account",
        "attributes": [
            user_name,
            attribute("externalId", "string", false, true, "none"),
            display_name,
            emails,
            active,
            language,
        ],
        "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{USER}") },
    })
}

pub fn enterprise_schema(base: &str) -> Value {
    let mut number = attribute("employeeNumber", "string", false, false, "none");
    number["description"] = json!("The Octopus username");
    number["required"] = json!(true);
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": ENTERPRISE,
        "name": "EnterpriseUser",
        "description": "Enterprise User: employeeNumber is the Octopus username",
        "attributes": [number],
        "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{ENTERPRISE}") },
    })
}

pub fn schemas(base: &str, org: &Organisation) -> Value {
    let mut all = vec![user_schema(base)];
    if uses_enterprise(org) {
        all.push(enterprise_schema(base));
    }
    list(all)
}

pub fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

pub fn page(total: i64, start_index: i64, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}
