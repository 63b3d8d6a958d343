//! The catalog in every revision: resources and resource templates, prompts, completion,
//! every list paged with its own cursors, and the capabilities each host declares.
//! Messages are validated against the schema of their revision.

mod common;

use common::*;
use remote_mcp_server::host::memory::MemoryStore;
use serde_json::{json, Value};

#[test]
fn resources_list_read_and_templates_in_every_revision() {
    let host = host();
    for revision in LEGACY {
        let list = legacy(&host, revision, "resources/list", json!({})).json();
        assert_result(revision, "ListResourcesResult", &list);
        assert_eq!(list["result"]["resources"][0]["uri"], "info://server");
        let read = legacy(
            &host,
            revision,
            "resources/read",
            json!({"uri": "info://server"}),
        )
        .json();
        assert_result(revision, "ReadResourceResult", &read);
        let info: Value =
            serde_json::from_str(read["result"]["contents"][0]["text"].as_str().unwrap()).unwrap();
        assert_eq!(info["authMode"], "passthrough");
        let templates = legacy(&host, revision, "resources/templates/list", json!({})).json();
        assert_result(revision, "ListResourceTemplatesResult", &templates);
        assert_eq!(
            templates["result"]["resourceTemplates"][0]["uriTemplate"],
            "tool://{name}/schema"
        );
        let schema = legacy(
            &host,
            revision,
            "resources/read",
            json!({"uri": "tool://add/schema"}),
        )
        .json();
        let text = schema["result"]["contents"][0]["text"].as_str().unwrap();
        let schema: Value = serde_json::from_str(text).unwrap();
        assert_eq!(schema["required"], json!(["a", "b"]), "{text}");
    }
    let modern_read = modern(&host, "resources/read", json!({"uri": "info://server"})).json();
    assert_schema(MODERN, "ReadResourceResultResponse", &modern_read);
    assert_eq!(modern_read["result"]["cacheScope"], "public");
}

#[test]
fn unknown_resources_name_their_uri_with_each_revisions_code() {
    let host = host();
    let old = legacy(
        &host,
        "2025-11-25",
        "resources/read",
        json!({"uri": "nope://x"}),
    )
    .json();
    assert_error("2025-11-25", &old);
    assert_eq!(old["error"]["code"], -32002);
    assert_eq!(old["error"]["data"]["uri"], "nope://x");
    let new = modern(&host, "resources/read", json!({"uri": "nope://x"}));
    assert_eq!(
        new.json()["error"]["code"],
        -32602,
        "2026-07-28 uses invalid params"
    );
    assert_eq!(new.json()["error"]["data"]["uri"], "nope://x");
    // A template match whose read fails is not found either.
    let missing = legacy(
        &host,
        "2025-06-18",
        "resources/read",
        json!({"uri": "tool://nosuch/schema"}),
    )
    .json();
    assert_eq!(missing["error"]["code"], -32002);
}

#[test]
fn prompts_list_and_get_with_argument_checks() {
    let host = host();
    for revision in LEGACY {
        let list = legacy(&host, revision, "prompts/list", json!({})).json();
        assert_result(revision, "ListPromptsResult", &list);
        assert_eq!(list["result"]["prompts"][0]["name"], "use_tool");
        let got = legacy(
            &host,
            revision,
            "prompts/get",
            json!({"name": "use_tool", "arguments": {"tool": "add", "task": "add 2 and 3"}}),
        )
        .json();
        assert_result(revision, "GetPromptResult", &got);
        let text = got["result"]["messages"][0]["content"]["text"]
            .as_str()
            .unwrap();
        assert!(
            text.contains("`add` tool") && text.contains("add 2 and 3"),
            "{text}"
        );
    }
    for (params, words) in [
        (json!({"name": "use_tool"}), "needs the argument \"tool\""),
        (
            json!({"name": "use_tool", "arguments": {"tool": 3}}),
            "must be a string",
        ),
        (json!({"name": "nope"}), "unknown prompt"),
        (
            json!({"name": "use_tool", "arguments": {"tool": "nope"}}),
            "no tool is called",
        ),
    ] {
        let body = legacy(&host, "2025-06-18", "prompts/get", params.clone()).json();
        assert_eq!(body["error"]["code"], -32602, "{params}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(words),
            "{body}"
        );
    }
}

#[test]
fn completion_suggests_prompt_arguments_and_template_variables() {
    let host = host();
    let ask = |reference: Value, name: &str, value: &str| {
        legacy(
            &host,
            "2025-06-18",
            "completion/complete",
            json!({"ref": reference, "argument": {"name": name, "value": value}}),
        )
        .json()
    };
    let prompt = ask(
        json!({"type": "ref/prompt", "name": "use_tool"}),
        "tool",
        "c",
    );
    assert_result("2025-06-18", "CompleteResult", &prompt);
    assert_eq!(
        prompt["result"]["completion"]["values"],
        json!(tool_names_starting_with("c"))
    );
    let template = ask(
        json!({"type": "ref/resource", "uri": "tool://{name}/schema"}),
        "name",
        "a",
    );
    assert_eq!(
        template["result"]["completion"]["values"],
        json!(tool_names_starting_with("a"))
    );
    assert_eq!(template["result"]["completion"]["hasMore"], false);
    assert_eq!(
        ask(json!({"type": "ref/prompt", "name": "nope"}), "x", "")["error"]["code"],
        -32602
    );
    assert_eq!(
        ask(json!({"type": "ref/tool"}), "x", "")["error"]["code"],
        -32602
    );
}

#[test]
fn every_list_pages_with_its_own_cursors() {
    let lists = [
        ("tools/list", "tools", "ListToolsResult", "name"),
        ("resources/list", "resources", "ListResourcesResult", "uri"),
        (
            "resources/templates/list",
            "resourceTemplates",
            "ListResourceTemplatesResult",
            "uriTemplate",
        ),
        ("prompts/list", "prompts", "ListPromptsResult", "name"),
    ];
    // The default page (50) holds each whole list: the reference the pages must add up to.
    let whole = fixtures();
    for size in [1, 2, 3] {
        let host = fixtures().with_variable("page_size", &size.to_string());
        for (method, key, definition, identity) in lists {
            let all = legacy(&whole, "2025-06-18", method, json!({})).json();
            assert!(all["result"].get("nextCursor").is_none(), "{method}: {all}");
            let all = all["result"][key].as_array().unwrap().clone();
            assert!(
                all.len() >= 2,
                "{method} has too few items to page: {all:?}"
            );
            let (mut listed, mut params, mut pages) = (Vec::new(), json!({}), 0);
            loop {
                let body = legacy(&host, "2025-06-18", method, params).json();
                assert_result("2025-06-18", definition, &body);
                let items = body["result"][key].as_array().unwrap();
                assert!(
                    (1..=size).contains(&items.len()),
                    "{method}, page size {size}: a page of {}",
                    items.len()
                );
                listed.extend(items.iter().cloned());
                pages += 1;
                assert!(
                    pages <= all.len(),
                    "{method}, page size {size}: endless cursors"
                );
                match body["result"]["nextCursor"].as_str() {
                    Some(cursor) => params = json!({"cursor": cursor}),
                    None => break,
                }
            }
            let names = |items: &[Value]| -> Vec<String> {
                items
                    .iter()
                    .map(|item| item[identity].as_str().unwrap().to_string())
                    .collect()
            };
            let (listed_names, all_names) = (names(&listed), names(&all));
            let distinct: std::collections::HashSet<&String> = listed_names.iter().collect();
            assert_eq!(
                distinct.len(),
                listed_names.len(),
                "{method}, page size {size}: an item listed twice: {listed_names:?}"
            );
            assert_eq!(
                listed_names, all_names,
                "{method}, page size {size}: the pages together are the whole list, in order"
            );
            assert_eq!(listed, all, "{method}, page size {size}");
            assert_eq!(
                pages,
                all.len().div_ceil(size),
                "{method}, page size {size}: pages (each full but the last)"
            );
        }
    }
    let host = fixtures().with_variable("page_size", "2");
    for (method, ..) in lists {
        let bad = legacy(&host, "2025-06-18", method, json!({"cursor": "bm9wZQ"})).json();
        assert_eq!(bad["error"]["code"], -32602, "{method}");
    }
    // A tools cursor is not a prompts cursor.
    let tools = legacy(&host, "2025-06-18", "tools/list", json!({})).json();
    let cursor = tools["result"]["nextCursor"].as_str().unwrap();
    let crossed = legacy(
        &host,
        "2025-06-18",
        "prompts/list",
        json!({"cursor": cursor}),
    )
    .json();
    assert_eq!(crossed["error"]["code"], -32602);
}

#[test]
fn capabilities_match_what_each_host_can_do() {
    let stateless = modern(&host(), "server/discover", json!({})).json();
    let caps = &stateless["result"]["capabilities"];
    assert_eq!(caps["resources"]["subscribe"], false);
    assert_eq!(caps["tools"]["listChanged"], false);
    assert!(
        caps["completions"].is_object()
            && caps["logging"].is_object()
            && caps["prompts"].is_object()
    );
    let testing = modern(
        &fixtures().with_store(MemoryStore::new()),
        "server/discover",
        json!({}),
    )
    .json();
    assert_eq!(
        testing["result"]["capabilities"]["tools"]["listChanged"],
        true
    );
    assert_eq!(
        testing["result"]["capabilities"]["resources"]["subscribe"],
        true
    );
    let old = legacy(
        &host(),
        "2024-11-05",
        "initialize",
        json!({"protocolVersion": "2024-11-05"}),
    )
    .json();
    assert_result("2024-11-05", "InitializeResult", &old);
    assert!(
        old["result"]["capabilities"].get("completions").is_none(),
        "completions came in 2025-03-26"
    );
}
