//! Every place that lists the functions agrees with the one table of them,
//! `Function` (src/function.rs): the packages under functions/ and the
//! function each starts as, the Makefile's build list, the router of
//! `cargo lambda watch` in Cargo.toml, the functions and routes of
//! template.yaml, and the IAM manifest deploy/function-permissions.json.
//! (The bench driver reads `Function::ALL` itself; its launcher, the router.)

use std::collections::BTreeSet;
use std::path::Path;

use secrets_lambda::Function;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("the workspace root")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What follows `marker` in the file at `path`.
fn after(path: &str, marker: &str) -> String {
    let text = read(path);
    let (_, rest) = text
        .split_once(marker)
        .unwrap_or_else(|| panic!("{path} has no {marker}"));
    rest.to_owned()
}

fn names() -> Vec<String> {
    Function::ALL.iter().map(|f| f.name().to_owned()).collect()
}

/// (method, path, function name) of every function.
fn routes() -> BTreeSet<(String, String, String)> {
    Function::ALL
        .iter()
        .flat_map(|f| {
            f.routes()
                .iter()
                .map(|route| (route.method.into(), route.path.into(), f.name().into()))
        })
        .collect()
}

/// The value of `key: value` or `key = "value"` on a line, unquoted.
fn value_of<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = line.trim().strip_prefix(key)?;
    let rest = rest.trim_start().strip_prefix([':', '='])?;
    Some(rest.trim().trim_matches('"'))
}

#[test]
fn each_function_is_a_package_that_starts_as_itself() {
    let mut packages: Vec<String> = std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    packages.sort();
    let mut expected = names();
    expected.sort();
    assert_eq!(packages, expected, "the packages under functions/");
    for function in Function::ALL {
        let name = function.name();
        let manifest = read(&format!("functions/{name}/Cargo.toml"));
        assert!(
            manifest.lines().any(|l| value_of(l, "name") == Some(name)),
            "functions/{name}/Cargo.toml names another package"
        );
        let main = read(&format!("functions/{name}/src/main.rs"));
        assert!(
            main.contains(&format!("(Function::{function:?})")),
            "functions/{name}/src/main.rs does not start Function::{function:?}"
        );
    }
}

#[test]
fn the_makefile_builds_every_function() {
    let makefile = read("Makefile");
    let listed: Vec<String> = makefile
        .lines()
        .find_map(|line| value_of(line, "FUNCTIONS").map(|v| v.trim_start_matches('=').trim()))
        .expect("a FUNCTIONS := line")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(listed, names());
}

#[test]
fn the_local_router_serves_every_route() {
    let section = after("Cargo.toml", "[workspace.metadata.lambda.watch.router]");
    let mut found = BTreeSet::new();
    let mut path = None;
    for line in section.lines().take_while(|l| !l.starts_with('[')) {
        if let Some((key, _)) = line.split_once(" = [") {
            path = Some(key.trim().trim_matches('"').to_owned());
        }
        if let Some(entry) = line.trim().strip_prefix('{') {
            let field = |name: &str| {
                entry
                    .split(',')
                    .find_map(|part| value_of(part.trim().trim_end_matches('}'), name))
                    .unwrap_or_else(|| panic!("{name} in {line}"))
                    .to_owned()
            };
            let path = path.clone().expect("a path before its entries");
            found.insert((field("method"), path, field("function")));
        }
    }
    assert_eq!(found, routes());
}

/// One `AWS::Serverless::Function` of template.yaml.
#[derive(Debug, Default)]
struct TemplateFunction {
    resource: String,
    binary: Option<String>,
    routes: Vec<(String, String)>,
}

fn template_functions() -> Vec<TemplateFunction> {
    let resources = after("template.yaml", "\nResources:\n");
    let mut functions = Vec::new();
    let mut current: Option<TemplateFunction> = None;
    let (mut is_function, mut path) = (false, None);
    for line in resources.lines() {
        if !line.starts_with(' ') && !line.is_empty() && !line.starts_with('#') {
            break; // the next top-level section
        }
        let indent = line.len() - line.trim_start().len();
        if indent == 2 && line.trim_end().ends_with(':') {
            functions.extend(current.take().filter(|_| is_function));
            current = Some(TemplateFunction {
                resource: line.trim().trim_end_matches(':').to_owned(),
                ..TemplateFunction::default()
            });
            is_function = false;
        }
        let Some(function) = current.as_mut() else {
            continue;
        };
        if value_of(line, "Type") == Some("AWS::Serverless::Function") && indent == 4 {
            is_function = true;
        }
        if !is_function {
            continue;
        }
        if let Some(binary) = value_of(line, "Binary") {
            function.binary = Some(binary.to_owned());
        }
        if let Some(value) = value_of(line, "Path") {
            path = Some(value.to_owned());
        }
        if let Some(method) = value_of(line, "Method") {
            let path = path.take().expect("Path before Method in an event");
            function.routes.push((method.to_owned(), path));
        }
    }
    functions.extend(current.filter(|_| is_function));
    functions
}

#[test]
fn the_template_deploys_every_function_with_its_route() {
    let deployed = template_functions();
    let resources: BTreeSet<String> = deployed.iter().map(|f| f.resource.clone()).collect();
    let expected: BTreeSet<String> = Function::ALL.iter().map(|f| f.resource()).collect();
    assert_eq!(resources, expected, "the template's functions");
    let mut found = BTreeSet::new();
    for function in Function::ALL {
        let template = deployed
            .iter()
            .find(|t| t.resource == function.resource())
            .expect("checked above");
        assert_eq!(
            template.binary.as_deref(),
            Some(function.name()),
            "{}'s binary",
            template.resource
        );
        for (method, path) in &template.routes {
            found.insert((method.clone(), path.clone(), function.name().to_owned()));
        }
    }
    assert_eq!(found, routes(), "the template's routes");
}

#[test]
fn the_iam_manifest_covers_every_function() {
    let manifest: serde_json::Value =
        serde_json::from_str(&read("deploy/function-permissions.json")).unwrap();
    let listed: BTreeSet<String> = manifest["functions"]
        .as_object()
        .expect("functions")
        .keys()
        .cloned()
        .collect();
    let expected: BTreeSet<String> = Function::ALL.iter().map(|f| f.resource()).collect();
    assert_eq!(listed, expected);
}
