//! WHERE clauses built at run time with numbered placeholders, which both SQLite and
//! PostgreSQL accept.

use sqlx::{Any, any::AnyArguments, query::Query};

#[derive(Clone, Debug)]
pub(crate) enum Bind {
    Text(String),
    Int(i64),
    /// NULL when `None`.
    OptionalText(Option<String>),
    OptionalInt(Option<i64>),
}

impl Bind {
    /// Binds this value as the query's next parameter.
    pub(crate) fn bind_to<'q>(
        self,
        query: Query<'q, Any, AnyArguments<'q>>,
    ) -> Query<'q, Any, AnyArguments<'q>> {
        match self {
            Bind::Text(text) => query.bind(text),
            Bind::Int(int) => query.bind(int),
            Bind::OptionalText(text) => query.bind(text),
            Bind::OptionalInt(int) => query.bind(int),
        }
    }
}

#[derive(Default, Clone)]
pub(crate) struct SqlFilter {
    clauses: Vec<String>,
    binds: Vec<Bind>,
}

impl SqlFilter {
    /// Registers a value and returns its placeholder (`$n`).
    pub(crate) fn placeholder(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    /// Adds `column op $n` bound to `value`.
    pub(crate) fn compare(&mut self, column: &str, op: &str, value: Bind) {
        let placeholder = self.placeholder(value);
        self.clauses.push(format!("{column} {op} {placeholder}"));
    }

    /// Adds `column LIKE $n` with backslash as the escape character.
    pub(crate) fn compare_like(&mut self, column: &str, pattern: Bind) {
        let placeholder = self.placeholder(pattern);
        self.clauses
            .push(format!("{column} LIKE {placeholder} ESCAPE '\\'"));
    }

    /// Adds a clause whose placeholders were registered with `placeholder`.
    /// `column IN (…)` over `values`, each bound as a placeholder.
    pub(crate) fn one_of(&mut self, column: &str, values: impl IntoIterator<Item = Bind>) {
        let placeholders: Vec<String> = values.into_iter().map(|v| self.placeholder(v)).collect();
        self.clause(format!("{column} IN ({})", placeholders.join(", ")));
    }

    pub(crate) fn clause(&mut self, sql: String) {
        self.clauses.push(sql);
    }

    /// Where the clauses added from now on begin, for [`SqlFilter::take_clauses_since`].
    pub(crate) fn mark(&self) -> usize {
        self.clauses.len()
    }

    /// Removes the clauses added since `mark` and returns them joined by AND, to be
    /// placed elsewhere in the statement (a subquery); their values stay bound here.
    pub(crate) fn take_clauses_since(&mut self, mark: usize) -> String {
        self.clauses
            .drain(mark.min(self.clauses.len())..)
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    pub(crate) fn where_sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    pub(crate) fn bind_to<'q>(
        self,
        mut query: Query<'q, Any, AnyArguments<'q>>,
    ) -> Query<'q, Any, AnyArguments<'q>> {
        for bind in self.binds {
            query = bind.bind_to(query);
        }
        query
    }
}
