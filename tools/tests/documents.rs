//! The router, API.md, `openapi.yaml`, the SAM template and the function binaries describe the
//! same set of routes and functions; adding one without the others fails here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_yaml::Value;
use ticketing::http::ROUTES;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `METHOD /path` of every route the router serves.
fn router_routes() -> BTreeSet<String> {
    ROUTES
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn binaries() -> BTreeSet<String> {
    std::fs::read_dir(root().join("functions/src/bin"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// The function resources of the template: binary name and its HttpApi `METHOD /path` events.
fn template_functions(template: &Value) -> Vec<(String, Vec<String>)> {
    let resources = template["Resources"].as_mapping().expect("Resources");
    let mut functions = Vec::new();
    for (name, resource) in resources {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{name:?} names no Binary"))
            .to_owned();
        let mut events = Vec::new();
        if let Some(mapping) = resource["Properties"]["Events"].as_mapping() {
            for event in mapping.values() {
                if event["Type"] == "HttpApi" && api_of(event) == "HttpApi" {
                    let p = &event["Properties"];
                    events.push(format!(
                        "{} {}",
                        p["Method"].as_str().unwrap_or_default().to_uppercase(),
                        p["Path"].as_str().unwrap_or_default()
                    ));
                }
            }
        }
        functions.push((binary, events));
    }
    functions
}

/// The API resource an HttpApi event is on (`ApiId: !Ref <name>`).
fn api_of(event: &Value) -> String {
    serde_yaml::to_string(&event["Properties"]["ApiId"])
        .unwrap_or_default()
        .trim()
        .trim_start_matches("!Ref")
        .trim()
        .to_owned()
}

/// `METHOD /path` of every operation of `openapi.yaml`.
fn openapi_routes() -> BTreeSet<String> {
    let document = yaml(&root().join("openapi.yaml"));
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_mapping().expect("paths") {
        for (method, _) in item.as_mapping().expect("path item") {
            let method = method.as_str().unwrap();
            if ["get", "post", "put", "patch", "delete", "head", "options"].contains(&method) {
                documented.insert(format!(
                    "{} {}",
                    method.to_uppercase(),
                    path.as_str().unwrap()
                ));
            }
        }
    }
    documented
}

#[test]
fn openapi_describes_exactly_the_routes_the_router_serves() {
    let document = yaml(&root().join("openapi.yaml"));
    assert_eq!(
        document["openapi"].as_str().map(|v| v.starts_with("3.1")),
        Some(true)
    );
    assert_eq!(openapi_routes(), router_routes());
}

#[test]
fn api_md_lists_exactly_the_routes_the_router_serves() {
    // API.md lives in the shared folder beside the checkout.
    let api_md = root().join("../shared/API.md");
    let Ok(text) = std::fs::read_to_string(&api_md) else {
        eprintln!(
            "{} not found: the API.md check needs the shared folder",
            api_md.display()
        );
        return;
    };
    let (listed, planned) = api_md_routes(&text);
    let served = router_routes();
    // A row marked (planned) is in the contract before any code serves it: it may be missing
    // from the router, and only such a row may be. Once the OpenAPI document or the template
    // has the route, it is built, not planned: a (planned) mark no longer excuses its absence
    // from the router.
    let template = yaml(&root().join("infra/template.yaml"));
    let built: BTreeSet<String> = openapi_routes()
        .into_iter()
        .chain(
            template_functions(&template)
                .into_iter()
                .flat_map(|(_, events)| events),
        )
        .collect();
    let excused: BTreeSet<String> = planned.difference(&built).cloned().collect();
    let unserved: BTreeSet<String> = listed.difference(&served).cloned().collect();
    assert!(
        unserved.is_subset(&excused),
        "listed in API.md, not served, and not a (planned) row that nothing has built yet: {:?}",
        unserved.difference(&excused).collect::<Vec<_>>()
    );
    for stale in planned.intersection(&served) {
        eprintln!("API.md still marks {stale} (planned), but the router serves it");
    }
    assert_eq!(
        served.difference(&listed).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "served but not listed in API.md"
    );
}

/// `METHOD /path` of every route row of API.md's tables, and those of them marked (planned).
fn api_md_routes(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut listed = BTreeSet::new();
    let mut planned = BTreeSet::new();
    for row in text.lines().filter_map(|line| line.strip_prefix("| `")) {
        let mut cells = row.split(" | ");
        let route = cells
            .next()
            .and_then(|cell| cell.split('`').next())
            .unwrap_or_default();
        let route = route
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        let route = route.split('?').next().unwrap_or_default().to_owned();
        if !route.starts_with(|c: char| c.is_ascii_uppercase()) {
            continue;
        }
        if cells
            .next()
            .is_some_and(|what| what.trim_start().starts_with("(planned)"))
        {
            planned.insert(route.clone());
        }
        listed.insert(route);
    }
    (listed, planned)
}

#[test]
fn a_planned_row_is_told_apart_from_a_served_one() {
    let (listed, planned) = api_md_routes(
        "| method and path | what | success |\n\
         | `GET /a/{id}?x=` | a thing | `200` |\n\
         | `GET /a/{id}/b` | (planned) its parts | `200` |\n",
    );
    assert_eq!(listed.len(), 2);
    assert_eq!(planned.into_iter().collect::<Vec<_>>(), ["GET /a/{id}/b"]);
}

#[test]
fn every_binary_has_its_function_and_every_route_its_event() {
    let template = yaml(&root().join("infra/template.yaml"));
    let functions = template_functions(&template);
    let deployed: BTreeSet<String> = functions.iter().map(|(b, _)| b.clone()).collect();
    assert_eq!(deployed.len(), functions.len(), "one resource per binary");
    assert_eq!(
        deployed,
        binaries(),
        "function resources and functions/src/bin agree"
    );

    for route in ROUTES {
        let events = functions
            .iter()
            .find(|(binary, _)| binary == route.function)
            .map(|(_, events)| events.clone())
            .unwrap_or_default();
        assert_eq!(
            events,
            [format!("{} {}", route.method, route.path)],
            "{} serves exactly its route",
            route.function
        );
    }
    let routed: BTreeSet<&str> = ROUTES.iter().map(|r| r.function).collect();
    for (binary, events) in &functions {
        if !routed.contains(binary.as_str()) {
            assert!(
                events.is_empty(),
                "{binary} is not an API function but has HTTP events"
            );
        }
    }
}

#[test]
fn the_template_never_trusts_a_user_header() {
    let text = std::fs::read_to_string(root().join("infra/template.yaml")).unwrap();
    assert!(!text.contains("TRUST_USER_HEADER"));
    assert!(!text.to_ascii_lowercase().contains("x-user-id"));
}

#[test]
fn cargo_lambda_watch_routes_every_path_to_its_function() {
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(root().join("Cargo.toml")).unwrap()).unwrap();
    let router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .expect("[workspace.metadata.lambda.watch.router]");
    let mut watched = BTreeSet::new();
    for (path, targets) in router {
        for target in targets.as_array().expect("method and function pairs") {
            let (method, function) = (
                target["method"].as_str().unwrap(),
                target["function"].as_str().unwrap(),
            );
            watched.insert(format!("{method} {path} {function}"));
        }
    }
    let expected: BTreeSet<String> = ROUTES
        .iter()
        .map(|r| format!("{} {} {}", r.method, r.path, r.function))
        .collect();
    assert_eq!(watched, expected);
}

/// The HttpApi event of a function resource, by its binary.
fn http_event<'t>(template: &'t Value, binary: &str) -> &'t Value {
    let resources = template["Resources"].as_mapping().expect("Resources");
    let resource = resources
        .values()
        .find(|r| r["Metadata"]["BuildProperties"]["Binary"] == binary)
        .unwrap_or_else(|| panic!("no function resource for {binary}"));
    resource["Properties"]["Events"]
        .as_mapping()
        .and_then(|events| events.values().find(|e| e["Type"] == "HttpApi"))
        .unwrap_or_else(|| panic!("{binary} has no HttpApi event"))
}

#[test]
fn admin_routes_take_iam_and_fan_routes_keep_the_jwt_authorizer() {
    let template = yaml(&root().join("infra/template.yaml"));
    let auth = &template["Resources"]["HttpApi"]["Properties"]["Auth"];
    assert_eq!(auth["DefaultAuthorizer"], "JwtAuthorizer");
    assert_eq!(auth["EnableIamAuthorizer"], true);
    for route in ROUTES {
        let authorizer = &http_event(&template, route.function)["Properties"]["Auth"]["Authorizer"];
        if route.endpoint.for_operators() {
            assert_eq!(authorizer, "AWS_IAM", "{} is for operators", route.function);
        } else if route.endpoint.for_provider() {
            // The provider has no JWT: its signature is checked in the function.
            assert_eq!(authorizer, "NONE", "{} is the provider's", route.function);
        } else {
            assert!(
                authorizer.is_null() || authorizer == "JwtAuthorizer",
                "{} keeps the fans' JWT authorizer, not {authorizer:?}",
                route.function
            );
        }
    }
}

/// The operator page's API serves exactly the `/admin` routes, each on its function, behind the
/// JWT authorizer (the function checks the operators group: `ticketing::http::OPERATORS_GROUP`).
#[test]
fn the_operator_api_serves_the_admin_routes_to_a_jwt() {
    let template = yaml(&root().join("infra/template.yaml"));
    let api = &template["Resources"]["OperatorHttpApi"]["Properties"];
    assert_eq!(api["Auth"]["DefaultAuthorizer"], "OperatorJwtAuthorizer");
    assert!(matches!(
        api["AccessLogSettings"]["DestinationArn"],
        Value::Tagged(_)
    ));
    let resources = template["Resources"].as_mapping().expect("Resources");
    let mut served = BTreeSet::new();
    for resource in resources.values() {
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for event in events.values() {
            if event["Type"] == "HttpApi" && api_of(event) == "OperatorHttpApi" {
                let p = &event["Properties"];
                assert!(p["Auth"].is_null(), "the API's JWT authorizer: {p:?}");
                served.insert(format!(
                    "{} {} {}",
                    p["Method"].as_str().unwrap_or_default(),
                    p["Path"].as_str().unwrap_or_default(),
                    resource["Metadata"]["BuildProperties"]["Binary"]
                        .as_str()
                        .unwrap_or_default()
                ));
            }
        }
    }
    let admin: BTreeSet<String> = ROUTES
        .iter()
        .filter(|r| r.endpoint.for_operators())
        .map(|r| format!("{} {} {}", r.method, r.path, r.function))
        .collect();
    assert_eq!(served, admin);
    let group = &template["Resources"]["OperatorsGroup"]["Properties"]["GroupName"];
    assert_eq!(group.as_str(), Some(ticketing::http::OPERATORS_GROUP));
}

#[test]
fn every_alarm_notifies_the_topic_and_shows_on_the_dashboard() {
    let template = yaml(&root().join("infra/template.yaml"));
    let resources = template["Resources"].as_mapping().unwrap();
    let dashboard = serde_yaml::to_string(
        &template["Resources"]["OnSaleDashboard"]["Properties"]["DashboardBody"],
    )
    .unwrap();
    let mut alarms = 0;
    for (name, resource) in resources {
        if resource["Type"] != "AWS::CloudWatch::Alarm" {
            continue;
        }
        alarms += 1;
        let name = name.as_str().unwrap();
        let actions = serde_yaml::to_string(&resource["Properties"]["AlarmActions"]).unwrap();
        assert!(
            actions.contains("AlarmTopicArn"),
            "{name} notifies the topic"
        );
        assert!(
            dashboard.contains(&format!("${{{name}.Arn}}")),
            "{name} shows on the dashboard"
        );
    }
    assert!(
        alarms >= 6,
        "API 5xx, Lambda errors and throttles, DynamoDB, the admitter"
    );
    for subject in [
        "Queue",
        "Admissions",
        "sales",
        "Errors",
        "Latency",
        "DynamoDB throttling",
        "Admitter",
    ] {
        assert!(dashboard.contains(subject), "the dashboard shows {subject}");
    }
}

/// The largest value of the template's parameter `parameter`, checked to reach every function
/// as its environment variable `variable`.
fn bound_given_to_every_function(template: &Value, variable: &str, parameter: &str) -> u64 {
    let variables = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert!(
        serde_yaml::to_string(&variables[variable])
            .unwrap()
            .contains(parameter),
        "every function gets {variable} from {parameter}"
    );
    template["Parameters"][parameter]["MaxValue"]
        .as_u64()
        .expect("a bounded parameter")
}

/// Every function of the template with its timeout in seconds.
fn function_timeouts(template: &Value) -> Vec<(String, u64)> {
    let default_timeout = template["Globals"]["Function"]["Timeout"].as_u64().unwrap();
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, resource)| resource["Type"] == "AWS::Serverless::Function")
        .map(|(name, resource)| {
            let timeout = resource["Properties"]["Timeout"]
                .as_u64()
                .unwrap_or(default_timeout);
            (name.as_str().unwrap_or_default().to_owned(), timeout)
        })
        .collect()
}

#[test]
fn a_dynamodb_attempt_times_out_well_inside_every_function_timeout() {
    let template = yaml(&root().join("infra/template.yaml"));
    let longest_attempt = bound_given_to_every_function(
        &template,
        "DYNAMODB_ATTEMPT_TIMEOUT_MS",
        "DynamoDbAttemptTimeoutMs",
    );
    for (name, timeout) in function_timeouts(&template) {
        // The SDK makes three attempts, with short backoffs between them.
        assert!(
            3 * longest_attempt + 500 < timeout * 1000,
            "{name:?}: three attempts fit inside {timeout} s"
        );
    }
}

#[test]
fn a_dynamodb_call_ends_inside_every_function_timeout_with_room_to_answer() {
    let template = yaml(&root().join("infra/template.yaml"));
    let budget =
        bound_given_to_every_function(&template, "DYNAMODB_CALL_BUDGET_MS", "DynamoDbCallBudgetMs");
    for (name, timeout) in function_timeouts(&template) {
        // Room to answer the 503 once the budget is spent (the request's deadline keeps the
        // same margin before the invocation's: `ticketing::deadline`).
        let margin = ticketing::deadline::ANSWER_MARGIN.as_millis() as u64;
        assert!(
            budget + margin < timeout * 1000,
            "{name:?}: a call's budget ends inside {timeout} s"
        );
    }
}

/// The stack's CORS lets the fan page send what `web/api.js` sends and read what it reads, as
/// the local server's CORS does (`tools::web`), on which the browser test runs the page from
/// another origin.
#[test]
fn the_stacks_cors_is_the_one_the_local_server_answers() {
    let template = yaml(&root().join("infra/template.yaml"));
    let Value::Tagged(cors) = &template["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"]
    else {
        panic!("CorsConfiguration is an !If on whether any origin is allowed");
    };
    let when_allowed = &cors.value[1];
    let names = |field: &str| -> Vec<&str> {
        when_allowed[field]
            .as_sequence()
            .unwrap_or_else(|| panic!("{field}"))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect()
    };
    assert_eq!(names("AllowMethods"), tools::web::CORS_ALLOW_METHODS);
    assert_eq!(names("AllowHeaders"), tools::web::CORS_ALLOW_HEADERS);
    assert_eq!(names("ExposeHeaders"), tools::web::CORS_EXPOSE_HEADERS);
    assert_eq!(
        when_allowed["MaxAge"].as_u64(),
        Some(u64::from(tools::web::CORS_MAX_AGE_SECONDS))
    );
}

/// CloudFront serves the page with the content security policy the local server sends, so a
/// page that runs locally runs deployed.
#[test]
fn the_hosted_page_has_the_local_servers_content_security_policy() {
    let template = yaml(&root().join("infra/template.yaml"));
    let headers = &template["Resources"]["FanPageHeadersPolicy"]["Properties"]
        ["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"];
    // `!Sub [policy, {SignInOrigin: ...}]`: the local policy but for where it may connect.
    let serde_yaml::Value::Tagged(sub) = &headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    else {
        panic!("the policy is a !Sub")
    };
    let hosted = tools::web::CONTENT_SECURITY_POLICY.replace(
        "connect-src 'self';",
        &format!("connect-src {};", tools::web::HOSTED_CONNECT_SRC),
    );
    assert_ne!(hosted, tools::web::CONTENT_SECURITY_POLICY);
    assert_eq!(sub.value[0].as_str(), Some(hosted.as_str()));
    assert!(matches!(
        sub.value[1]["SignInOrigin"],
        serde_yaml::Value::Tagged(_)
    ));
    for directive in [
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(hosted.contains(directive), "{directive}");
    }
    assert!(
        !hosted.contains("https:;") && !hosted.contains("https: "),
        "{hosted}"
    );
}

/// The edge's WAF (ApiEdge) refuses a caller over its rate as the service does: 429, the
/// service's own RATE_LIMITED problem, Retry-After; and its distribution caches nothing one
/// caller could be served of another's.
#[test]
fn the_api_edge_throttles_as_the_service_does_and_keeps_callers_apart() {
    let template = yaml(&root().join("infra/template.yaml"));
    let resources = &template["Resources"];
    let acl = &resources["ApiEdgeWebAcl"]["Properties"];
    assert_eq!(acl["Scope"], "CLOUDFRONT");
    // `!Sub [body, {Base: ...}]`: its type under the functions' PROBLEM_TYPE_BASE, which the
    // template chooses with the same expression, else the relative default.
    let Value::Tagged(sub) = &acl["CustomResponseBodies"]["RateLimited"]["Content"] else {
        panic!("the body is a !Sub")
    };
    let base = &sub.value[1]["Base"];
    let Value::Tagged(choice) = base else {
        panic!("the base is an !If")
    };
    let functions_base =
        &template["Globals"]["Function"]["Environment"]["Variables"]["PROBLEM_TYPE_BASE"];
    let Value::Tagged(functions_choice) = functions_base else {
        panic!("PROBLEM_TYPE_BASE is an !If")
    };
    assert_eq!(choice.value[0], functions_choice.value[0]);
    assert_eq!(choice.value[1], functions_choice.value[1]);
    let Value::Tagged(hosted) = &choice.value[2] else {
        panic!("the second choice is an !If")
    };
    let Value::Tagged(functions_hosted) = &functions_choice.value[2] else {
        panic!("the second choice is an !If")
    };
    assert_eq!(hosted.value[0], functions_hosted.value[0]);
    assert_eq!(hosted.value[1], functions_hosted.value[1]);
    // The hosted page's base is one the functions accept, and names the page of problem types
    // that publish-web uploads with the rest of web/.
    let Value::Tagged(hosted_base) = &functions_hosted.value[1] else {
        panic!("the hosted base is a !Sub")
    };
    let hosted_base = hosted_base.value.as_str().unwrap().replace(
        "${FanPageDistribution.DomainName}",
        "d111111abcdef8.cloudfront.net",
    );
    assert_eq!(
        hosted_base,
        "https://d111111abcdef8.cloudfront.net/problems.html#"
    );
    assert!(ticketing::http::ProblemTypes::absolute(&hosted_base).is_some());
    assert!(root().join("web/problems.html").is_file());
    let default = ticketing::http::ProblemTypes::default().uri("");
    assert_eq!(hosted.value[2].as_str(), Some(default.as_str()));
    let content = sub.value[0].as_str().unwrap().replace("${Base}", &default);
    let body: serde_json::Value = serde_json::from_str(&content).unwrap();
    let service = ticketing::http::problem_response(&ticketing::BookingError::RateLimited {
        retry_after: 60,
        limit: 20,
        window: 10,
    });
    let lambda_http::Body::Text(text) = service.body() else {
        panic!("text")
    };
    let service: serde_json::Value = serde_json::from_str(text).unwrap();
    for member in ["type", "title", "status", "code"] {
        assert_eq!(body[member], service[member], "{member}");
    }
    let rules = acl["Rules"].as_sequence().unwrap();
    let limits: Vec<&Value> = rules
        .iter()
        .filter(|r| !r["Statement"]["RateBasedStatement"].is_null())
        .collect();
    assert_eq!(limits.len(), 2, "per caller and per address");
    for rule in limits {
        let response = &rule["Action"]["Block"]["CustomResponse"];
        assert_eq!(response["ResponseCode"], 429);
        assert_eq!(response["ResponseHeaders"][0]["Name"], "Retry-After");
        assert_eq!(
            rule["Statement"]["RateBasedStatement"]["EvaluationWindowSec"],
            60
        );
    }
    let cache = &resources["ApiEdgeCachePolicy"]["Properties"]["CachePolicyConfig"];
    assert_eq!(
        (&cache["DefaultTTL"], &cache["MinTTL"]),
        (&Value::from(0), &Value::from(0))
    );
    let keyed: Vec<&str> = cache["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"]
        ["Headers"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert_eq!(keyed, ["Authorization", "X-Queue-Token"]);
}

/// The edge proves itself to the functions (ApiEdge): its distribution adds `X-Origin-Verify`
/// with the stack's generated secret, which every function is given as `ORIGIN_VERIFY_SECRET`;
/// the secret is one the functions accept, and lives in no file.
#[test]
fn the_api_edge_cannot_be_walked_around() {
    let template = yaml(&root().join("infra/template.yaml"));
    let resources = &template["Resources"];
    let reference = "{{resolve:secretsmanager:${ApiEdgeOriginSecret}:SecretString}}";
    let sub_of = |value: &Value| match value {
        Value::Tagged(sub) if sub.tag == "!Sub" => sub.value.as_str().map(str::to_owned),
        _ => None,
    };
    let origin =
        &resources["ApiEdgeDistribution"]["Properties"]["DistributionConfig"]["Origins"][0];
    let header = &origin["OriginCustomHeaders"][0];
    assert_eq!(
        header["HeaderName"]
            .as_str()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some(ticketing::http::ORIGIN_VERIFY_HEADER)
    );
    assert_eq!(sub_of(&header["HeaderValue"]).as_deref(), Some(reference));
    let Value::Tagged(setting) =
        &template["Globals"]["Function"]["Environment"]["Variables"]["ORIGIN_VERIFY_SECRET"]
    else {
        panic!("ORIGIN_VERIFY_SECRET is an !If")
    };
    assert_eq!(setting.value[0], "FrontApiWithEdge");
    assert_eq!(sub_of(&setting.value[1]).as_deref(), Some(reference));
    let secret = &resources["ApiEdgeOriginSecret"];
    assert_eq!(secret["Condition"], "FrontApiWithEdge");
    let generated = &secret["Properties"]["GenerateSecretString"];
    assert!(secret["Properties"]["SecretString"].is_null());
    assert_eq!(generated["ExcludePunctuation"], true);
    let length = generated["PasswordLength"].as_u64().unwrap() as usize;
    assert!(
        (ticketing::http::OriginSecret::MIN_LEN..=ticketing::http::OriginSecret::MAX_LEN)
            .contains(&length)
    );
}

/// Every problem's `type` resolves to a page of the docs: each code the document knows has its
/// section of `web/problems.html`, which the local server serves at `/problems/{slug}` (and the
/// hosted page at `/problems.html#{slug}`).
#[test]
fn every_problem_type_resolves_to_its_section_of_the_page_of_problem_types() {
    let spec = yaml(&root().join("openapi.yaml"));
    let codes = spec["components"]["schemas"]["ProblemCode"]["enum"]
        .as_sequence()
        .unwrap();
    assert!(codes.len() > 50);
    for code in codes {
        let code = code.as_str().unwrap();
        let slug = code.to_ascii_lowercase().replace('_', "-");
        let page = tools::web::page_file(&format!("/problems/{slug}"))
            .unwrap_or_else(|| panic!("{code}: /problems/{slug} resolves to nothing"));
        let text = std::str::from_utf8(page.bytes).unwrap();
        let section = &text[text.find(&format!("<section id=\"{slug}\">")).unwrap()..];
        let section = &section[..section.find("</section>").unwrap()];
        assert!(
            section.contains(&format!("<code>{code}</code>")),
            "{section}"
        );
        assert!(!section.contains("<p></p>"), "{code} says nothing");
    }
}
