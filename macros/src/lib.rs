//! `#[derive(Schema)]`: the JSON Schema of a struct's fields, written out at compile time
//! as one string constant, so a tool's arguments (or its structured output) are a Rust
//! type and the schema clients see cannot disagree with it. Nothing is built at run time.
//!
//! ```ignore
//! #[derive(Deserialize, Schema)]
//! struct Countdown {
//!     /// Where to start counting.
//!     #[schema(minimum = 1, maximum = 60, default = 5)]
//!     from: u64,
//! }
//! ```
//!
//! Field types: `f32`/`f64` (number), integers (integer, within the type's range),
//! `bool`, `String`, `Vec<T>` (array of T), `Option<T>` (T, not required) and
//! `serde_json::Value` (anything). Doc comments become descriptions. `#[schema(...)]` on a
//! field: `minimum`, `maximum`, `min_length`, `max_length`, `default` (a literal; the field
//! is then not required and the server fills it in), `header = "Name"` (2026-07-28's
//! `x-mcp-header`), or `raw = "{…}"` for a schema the rest cannot express. On the struct:
//! `#[schema(additional_properties)]` accepts arguments it does not name (the default
//! refuses them). `#[serde(rename = …)]` and `#[serde(rename_all = "camelCase")]` are
//! followed; `#[serde(flatten)]` and `#[serde(skip…)]` are refused.

use proc_macro::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{parse_macro_input, Attribute, Data, DeriveInput, Expr, Fields, Lit, Type, UnOp};

#[proc_macro_derive(Schema, attributes(schema))]
pub fn derive_schema(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

fn expand(input: &DeriveInput) -> syn::Result<proc_macro2::TokenStream> {
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            input.span(),
            "derive(Schema) supports structs with named fields",
        ));
    };
    let named: Vec<&syn::Field> = match &data.fields {
        Fields::Named(fields) => fields.named.iter().collect(),
        Fields::Unit => Vec::new(),
        Fields::Unnamed(_) => {
            return Err(syn::Error::new(
                input.span(),
                "derive(Schema) supports structs with named fields",
            ))
        }
    };
    let mut additional = false;
    for attr in attrs_named(&input.attrs, "schema") {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("additional_properties") {
                additional = true;
                Ok(())
            } else {
                Err(meta.error("unknown #[schema] option on a struct"))
            }
        })?;
    }
    let rename_all = serde_rename_all(&input.attrs)?;

    let mut properties = Vec::new();
    let mut required = Vec::new();
    let mut defaults = Vec::new();
    for field in named {
        let ident = field.ident.as_ref().expect("named field");
        let name = serde_rename(&field.attrs)?
            .unwrap_or_else(|| apply_rename_all(&ident.to_string(), rename_all.as_deref()));
        let options = FieldOptions::parse(&field.attrs)?;
        let (mut schema, optional) = match &options.raw {
            Some(raw) => (Members::raw(raw.clone()), false),
            None => type_schema(&field.ty)?,
        };
        for (key, value) in [
            ("minimum", &options.minimum),
            ("maximum", &options.maximum),
            ("minLength", &options.min_length),
            ("maxLength", &options.max_length),
            ("default", &options.default),
        ] {
            if let Some(value) = value {
                schema.set(key, value.clone());
            }
        }
        if let Some(header) = &options.header {
            schema.set("x-mcp-header", json_string(header));
        }
        if let Some(description) = doc_comment(&field.attrs) {
            schema.set("description", json_string(&description));
        }
        if let Some(default) = &options.default {
            defaults.push((name.clone(), default.clone()));
        } else if !optional {
            required.push(json_string(&name));
        }
        properties.push(format!("{}:{}", json_string(&name), schema.render()));
    }
    let mut json = format!(
        "{{\"type\":\"object\",\"properties\":{{{}}}",
        properties.join(",")
    );
    if !required.is_empty() {
        json.push_str(&format!(",\"required\":[{}]", required.join(",")));
    }
    if !additional {
        json.push_str(",\"additionalProperties\":false");
    }
    json.push('}');

    let ident = &input.ident;
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    let default_names = defaults.iter().map(|(name, _)| name);
    let default_values = defaults.iter().map(|(_, value)| value);
    Ok(quote! {
        impl #impl_generics ::remote_mcp_server::tools::Schema for #ident #type_generics #where_clause {
            const SCHEMA: &'static str = #json;
            const DEFAULTS: &'static [(&'static str, &'static str)] =
                &[#((#default_names, #default_values)),*];
        }
    })
}

/// A schema object's members in order, as JSON texts.
struct Members(Vec<(String, String)>, Option<String>);

impl Members {
    fn of(pairs: &[(&str, &str)]) -> Members {
        Members(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            None,
        )
    }

    fn raw(text: String) -> Members {
        Members(Vec::new(), Some(text))
    }

    fn set(&mut self, key: &str, value: String) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key.to_string(), value)),
        }
    }

    fn render(&self) -> String {
        let members: Vec<String> = self
            .0
            .iter()
            .map(|(k, v)| format!("{}:{v}", json_string(k)))
            .collect();
        match &self.1 {
            // A raw schema keeps its text; members set beside it (a description) join it.
            Some(raw) if members.is_empty() => raw.clone(),
            Some(raw) => {
                let inner = raw.trim().trim_start_matches('{').trim_end_matches('}');
                let inner = inner.trim();
                if inner.is_empty() {
                    format!("{{{}}}", members.join(","))
                } else {
                    format!("{{{inner},{}}}", members.join(","))
                }
            }
            None => format!("{{{}}}", members.join(",")),
        }
    }
}

/// The schema of a field's type, and whether the field may be left out (`Option`).
fn type_schema(ty: &Type) -> syn::Result<(Members, bool)> {
    let unsupported = || {
        syn::Error::new(
            ty.span(),
            "derive(Schema) does not know this type: use f64, an integer, bool, String, \
             Vec<T>, Option<T> or serde_json::Value, or give #[schema(raw = \"{…}\")]",
        )
    };
    let Type::Path(path) = ty else {
        return Err(unsupported());
    };
    let segment = path.path.segments.last().ok_or_else(unsupported)?;
    let inner = || -> syn::Result<&Type> {
        match &segment.arguments {
            syn::PathArguments::AngleBracketed(args) => match args.args.first() {
                Some(syn::GenericArgument::Type(inner)) => Ok(inner),
                _ => Err(unsupported()),
            },
            _ => Err(unsupported()),
        }
    };
    let schema = match segment.ident.to_string().as_str() {
        "Option" => return Ok((type_schema(inner()?)?.0, true)),
        "Vec" => {
            let items = type_schema(inner()?)?.0.render();
            Members::of(&[("type", "\"array\""), ("items", &items)])
        }
        "String" => Members::of(&[("type", "\"string\"")]),
        "bool" => Members::of(&[("type", "\"boolean\"")]),
        "f32" | "f64" => Members::of(&[("type", "\"number\"")]),
        // The integer types' own bounds, so a value the schema passes also fits the type
        // (64-bit bounds are beyond what JSON numbers carry exactly: only the sign).
        "i8" => integer(Some("-128"), Some("127")),
        "i16" => integer(Some("-32768"), Some("32767")),
        "i32" => integer(Some("-2147483648"), Some("2147483647")),
        "i64" | "isize" => integer(None, None),
        "u8" => integer(Some("0"), Some("255")),
        "u16" => integer(Some("0"), Some("65535")),
        "u32" => integer(Some("0"), Some("4294967295")),
        "u64" | "usize" => integer(Some("0"), None),
        "Value" => Members::of(&[]),
        _ => return Err(unsupported()),
    };
    Ok((schema, false))
}

fn integer(minimum: Option<&str>, maximum: Option<&str>) -> Members {
    let mut members = Members::of(&[("type", "\"integer\"")]);
    for (key, bound) in [("minimum", minimum), ("maximum", maximum)] {
        if let Some(bound) = bound {
            members.set(key, bound.to_string());
        }
    }
    members
}

#[derive(Default)]
struct FieldOptions {
    minimum: Option<String>,
    maximum: Option<String>,
    min_length: Option<String>,
    max_length: Option<String>,
    default: Option<String>,
    header: Option<String>,
    raw: Option<String>,
}

impl FieldOptions {
    fn parse(attrs: &[Attribute]) -> syn::Result<FieldOptions> {
        let mut options = FieldOptions::default();
        for attr in attrs_named(attrs, "schema") {
            attr.parse_nested_meta(|meta| {
                let slot = if meta.path.is_ident("minimum") {
                    &mut options.minimum
                } else if meta.path.is_ident("maximum") {
                    &mut options.maximum
                } else if meta.path.is_ident("min_length") {
                    &mut options.min_length
                } else if meta.path.is_ident("max_length") {
                    &mut options.max_length
                } else if meta.path.is_ident("default") {
                    &mut options.default
                } else if meta.path.is_ident("header") {
                    let text: syn::LitStr = meta.value()?.parse()?;
                    options.header = Some(text.value());
                    return Ok(());
                } else if meta.path.is_ident("raw") {
                    let text: syn::LitStr = meta.value()?.parse()?;
                    options.raw = Some(text.value());
                    return Ok(());
                } else {
                    return Err(meta.error(
                        "unknown #[schema] option: minimum, maximum, min_length, max_length, \
                         default, header or raw",
                    ));
                };
                let value: Expr = meta.value()?.parse()?;
                *slot = Some(literal_json(&value)?);
                Ok(())
            })?;
        }
        Ok(options)
    }
}

/// A literal (or a negated number) as JSON text.
fn literal_json(expr: &Expr) -> syn::Result<String> {
    match expr {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Int(int) => Ok(int.base10_digits().to_string()),
            Lit::Float(float) => Ok(float.base10_digits().to_string()),
            Lit::Str(text) => Ok(json_string(&text.value())),
            Lit::Bool(flag) => Ok(flag.value.to_string()),
            other => Err(syn::Error::new(
                other.span(),
                "expected a number, string or bool",
            )),
        },
        Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)) => {
            Ok(format!("-{}", literal_json(&unary.expr)?))
        }
        other => Err(syn::Error::new(other.span(), "expected a literal")),
    }
}

fn attrs_named<'a>(attrs: &'a [Attribute], name: &'a str) -> impl Iterator<Item = &'a Attribute> {
    attrs.iter().filter(move |a| a.path().is_ident(name))
}

/// The doc comment's lines, trimmed and joined with spaces.
fn doc_comment(attrs: &[Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs_named(attrs, "doc")
        .filter_map(|attr| match &attr.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Str(text),
                    ..
                }) => Some(text.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .filter(|line| !line.is_empty())
        .collect();
    (!lines.is_empty()).then(|| lines.join(" "))
}

fn serde_rename(attrs: &[Attribute]) -> syn::Result<Option<String>> {
    let mut rename = None;
    for attr in attrs_named(attrs, "serde") {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let text: syn::LitStr = meta.value()?.parse()?;
                rename = Some(text.value());
            } else if meta.path.is_ident("flatten")
                || meta.path.is_ident("skip")
                || meta.path.is_ident("skip_deserializing")
                || meta.path.is_ident("skip_serializing")
            {
                return Err(meta.error("derive(Schema) cannot describe this serde option"));
            } else if meta.input.peek(syn::Token![=]) {
                let _: Expr = meta.value()?.parse()?;
            }
            Ok(())
        })?;
    }
    Ok(rename)
}

fn serde_rename_all(attrs: &[Attribute]) -> syn::Result<Option<String>> {
    let mut rename_all = None;
    for attr in attrs_named(attrs, "serde") {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename_all") {
                let text: syn::LitStr = meta.value()?.parse()?;
                if !["camelCase", "snake_case"].contains(&text.value().as_str()) {
                    return Err(
                        meta.error("derive(Schema) follows rename_all camelCase or snake_case")
                    );
                }
                rename_all = Some(text.value());
            } else if meta.input.peek(syn::Token![=]) {
                let _: Expr = meta.value()?.parse()?;
            }
            Ok(())
        })?;
    }
    Ok(rename_all)
}

fn apply_rename_all(name: &str, rule: Option<&str>) -> String {
    match rule {
        Some("camelCase") => {
            let mut out = String::new();
            let mut upper = false;
            for c in name.chars() {
                if c == '_' {
                    upper = true;
                } else if upper {
                    out.extend(c.to_uppercase());
                    upper = false;
                } else {
                    out.push(c);
                }
            }
            out
        }
        _ => name.to_string(),
    }
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
