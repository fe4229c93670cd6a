//! Collecting every problem before reporting: the user sees all of them in one build.

/// The errors found so far, combined into one `syn::Error` (which keeps each span).
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>, usize);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        self.1 += 1;
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// How many errors so far.
    pub(crate) fn count(&self) -> usize {
        self.1
    }

    /// `Err` with every error, if there was any.
    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        match self.0 {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
