//! `#[weft_sdk::rule]`: turns one function into a weft rule module.
//!
//! The function takes a `weft_sdk::Event` and returns anything that implements `weft_sdk::IntoOutcome`
//! (an `Outcome`, a `Record`, a `Vec<Record>`, an `Option<Record>`, or a `Result` of those with any error that
//! converts into a `RuleError`). The attribute keeps the function as it is, so it can be unit-tested natively,
//! and adds the component exports only when compiling for wasm.

use proc_macro::TokenStream;
use quote::quote;
use syn::{ItemFn, parse_macro_input};

#[proc_macro_attribute]
pub fn rule(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        let attr = proc_macro2::TokenStream::from(attr);
        return syn::Error::new_spanned(attr, "#[weft_sdk::rule] takes no arguments").to_compile_error().into();
    }
    let function = parse_macro_input!(item as ItemFn);
    let sig = &function.sig;
    if sig.inputs.len() != 1 || sig.asyncness.is_some() || !sig.generics.params.is_empty() {
        return syn::Error::new_spanned(
            sig,
            "a weft rule is `fn NAME(event: weft_sdk::Event) -> impl weft_sdk::IntoOutcome` (one argument, not async, not generic)",
        )
        .to_compile_error()
        .into();
    }
    let name = &sig.ident;
    quote! {
        #function

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __WeftRule;

            impl ::weft_sdk::__private::Guest for __WeftRule {
                fn process(event: ::weft_sdk::__private::WitEvent) -> ::weft_sdk::__private::WitOutcome {
                    ::weft_sdk::__private::call(event, #name)
                }

                fn process_batch(
                    events: ::std::vec::Vec<::weft_sdk::__private::WitEvent>,
                ) -> ::std::vec::Vec<::weft_sdk::__private::WitOutcome> {
                    events.into_iter().map(|event| ::weft_sdk::__private::call(event, #name)).collect()
                }
            }

            ::weft_sdk::__private::bindings::__export_rule_world!(__WeftRule with_types_in ::weft_sdk::__private::bindings);
        };
    }
    .into()
}
