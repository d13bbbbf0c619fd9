//! Multi-row statements: the VALUES list of a batch INSERT in each engine's placeholders,
//! and integer lists written into a statement.

use crate::open::Engine;

/// `rows` parenthesised groups of `width` parameters for a multi-row VALUES. SQLite gets
/// anonymous `?`: sqlx's SQLite driver resolves each numbered `$n` by a linear scan of
/// the statement's parameter names, which for wide statements costs more than the
/// insert itself. PostgreSQL gets `$n`.
pub(crate) fn value_rows(engine: Engine, rows: usize, width: usize) -> String {
    let mut sql = String::with_capacity(rows * width * 5);
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..width {
            if column > 0 {
                sql.push_str(", ");
            }
            match engine {
                Engine::Sqlite => sql.push('?'),
                Engine::Postgres => {
                    sql.push('$');
                    sql.push_str(&(row * width + column + 1).to_string());
                }
            }
        }
        sql.push(')');
    }
    sql
}

/// Integers as an SQL list (`1, 2, 3`), for `IN (…)`: written into the statement, as
/// integers cannot inject anything and a list of placeholders would be as long.
pub(crate) fn integer_list(values: &[i64]) -> String {
    values
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_rows_number_postgres_parameters_and_leave_sqlite_anonymous() {
        assert_eq!(
            value_rows(Engine::Postgres, 2, 3),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(value_rows(Engine::Sqlite, 2, 2), "(?, ?), (?, ?)");
    }
}
