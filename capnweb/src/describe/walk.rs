//! The walk from a root target through every type and target reachable from it, in the order
//! first reached (so every view of it is stable). It feeds the TypeScript module
//! ([`declarations`](crate::typescript::declarations)) and the description
//! ([`describe_all`](super::describe_all)).

use std::cell::RefCell;
use std::collections::HashMap;

use ts_rs::{TypeVisitor, TS};

use super::{Describe, TargetDescriptor};
use crate::typescript::config;

/// One declaration the walk reached.
pub(crate) struct Declared {
    /// The declared name (`Todo`, `Page<T>`'s `Page`).
    pub(crate) name: String,
    /// Its JSDoc, ending in a newline, or empty.
    pub(crate) docs: String,
    /// The declaration, without `export`: `type Todo = { … };`, `interface Api extends …`.
    pub(crate) decl: String,
    /// The descriptor it was rendered from, when it is a target.
    pub(crate) target: Option<TargetDescriptor>,
}

/// Every declaration reachable from `S`, `S` first, in the order first reached. Panics as
/// [`declarations`](crate::typescript::declarations) says.
pub(crate) fn walk<S: Describe + TS + 'static>() -> Vec<Declared> {
    let mut collector = Collector {
        cfg: config(),
        declared: HashMap::new(),
        out: Vec::new(),
    };
    collector.visit::<S>();
    collector.out
}

thread_local! {
    /// While the walk asks one type for its declaration: `Some`, and then the descriptor of
    /// the target that declaration was rendered from, if it was one.
    static CAUGHT: RefCell<Option<Option<TargetDescriptor>>> = const { RefCell::new(None) };
}

/// Called by [`interface`](crate::typescript::interface) for every target it renders. The walk
/// sees a reached target only through ts-rs's `TS` (a generic visitor cannot ask for
/// `Describe`), and a target's `TS` declaration is rendered from its descriptor: so this is
/// where the walk learns the descriptor. Outside a walk it does nothing.
pub(crate) fn rendered(target: &TargetDescriptor) {
    CAUGHT.with(|caught| {
        if let Some(slot) = caught.borrow_mut().as_mut() {
            *slot = Some(target.clone());
        }
    });
}

/// `T`'s declaration, and the descriptor it was rendered from if `T` is a target.
fn declaration_of<T: TS + 'static + ?Sized>(
    cfg: &ts_rs::Config,
) -> (String, Option<TargetDescriptor>) {
    /// Stops catching even when `decl` panics (a reached target without a TypeScript form).
    struct Catching;
    impl Drop for Catching {
        fn drop(&mut self) {
            CAUGHT.with(|caught| caught.borrow_mut().take());
        }
    }
    CAUGHT.with(|caught| *caught.borrow_mut() = Some(None));
    let catching = Catching;
    let decl = T::decl(cfg);
    let target = CAUGHT.with(|caught| caught.borrow_mut().take().flatten());
    drop(catching);
    (decl, target)
}

struct Collector {
    cfg: ts_rs::Config,
    /// Declared names, with the Rust type and the declaration, to catch two under one name.
    declared: HashMap<String, (&'static str, String)>,
    out: Vec<Declared>,
}

impl TypeVisitor for Collector {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        // Built-ins (numbers, arrays, capnweb's types) have no declaration of their own.
        if T::output_path().is_none() {
            return;
        }
        let name = T::ident(&self.cfg);
        let (decl, target) = declaration_of::<T>(&self.cfg);
        if let Some((first, first_decl)) = self.declared.get(&name) {
            // The same generic type at another argument has the same declaration.
            if *first_decl != decl {
                panic!(
                    "capnweb::typescript: `{first}` and `{}` are both declared as `{name}`; \
                     rename one (ts-rs: `#[ts(rename = \"…\")]`)",
                    std::any::type_name::<T>()
                );
            }
            return;
        }
        self.declared
            .insert(name.clone(), (std::any::type_name::<T>(), decl.clone()));
        self.out.push(Declared {
            name,
            docs: T::docs().unwrap_or_default(),
            decl,
            target,
        });
        T::visit_dependencies(self);
    }
}
