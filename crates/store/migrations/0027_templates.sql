-- Message templates (docs/API.md §5.10): an application's, or one grant's. A grant's
-- template belongs to the grant's application too, so deleting either removes it; the
-- application's own templates have no grant.
CREATE TABLE templates (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    grant_id TEXT REFERENCES grants(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    -- mustache | handlebars | nunjucks | twig
    engine TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Ids are time-ordered, so a page of one owner's templates is a range of this index.
CREATE INDEX templates_by_application ON templates (application_id, grant_id, id);
CREATE INDEX templates_by_grant ON templates (grant_id, id);
