"""the audit log, free text out of the timeline, consent withdrawn, purge marks; append-only

Revision ID: 0007_audit
Revises: 0006_accounts
Create Date: 2027-01-15

- `auditentry`: the hash-chained audit log (engine/audit/log.py).
- `reply`, `note`: the free text that events carried (an SMS reply's text, an acknowledgement's
  note), moved out of `event.data` so that purge can erase it while the timeline stays as it
  is; the intake answers that `intake.answered` / `intake.changed` carried are referred to as
  `intakeanswer` rows (`answer_id`, `previous_id`).
- `contact.withdrawn_at`, `withdrawn_by`; `erased_at` on contact, staff, incident, message,
  intakeanswer; `intakeanswer.replaced_at`.
- Triggers that refuse UPDATE, DELETE (and on PostgreSQL TRUNCATE) of `event` and
  `auditentry` rows, on PostgreSQL and on SQLite. They are created after the events were
  rewritten.
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_audit'
down_revision = '0006_accounts'
branch_labels = None
depends_on = None

APPEND_ONLY = ('event', 'auditentry')
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION verbinder_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'verbinder: rows of % are only ever added; % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = '42501';
END;
$$ LANGUAGE plpgsql
"""

# Plain table shapes for the data step (never the live models).
_event = sa.table('event', sa.column('id', sa.Integer), sa.column('at', sa.DateTime),
                  sa.column('incident_id', sa.Integer), sa.column('community_id', sa.String),
                  sa.column('kind', sa.String), sa.column('actor', sa.String),
                  sa.column('data', sa.JSON))
_reply = sa.table('reply', sa.column('id', sa.Integer), sa.column('incident_id', sa.Integer),
                  sa.column('sender', sa.String), sa.column('text', sa.String),
                  sa.column('at', sa.DateTime))
_note = sa.table('note', sa.column('id', sa.Integer), sa.column('incident_id', sa.Integer),
                 sa.column('subject', sa.String), sa.column('author', sa.String),
                 sa.column('text', sa.String), sa.column('at', sa.DateTime))
_answer = sa.table('intakeanswer', sa.column('id', sa.Integer),
                   sa.column('incident_id', sa.Integer), sa.column('community_id', sa.String),
                   sa.column('contact_id', sa.String), sa.column('form_id', sa.String),
                   sa.column('answers', sa.JSON), sa.column('source', sa.String),
                   sa.column('at', sa.DateTime), sa.column('link', sa.String),
                   sa.column('replaced_at', sa.DateTime))
_TEXT_KINDS = ('inbound.reply', 'community.acknowledged', 'intake.answered', 'intake.changed')


def upgrade() -> None:
    op.create_table('auditentry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('object', sa.String(length=300), nullable=True),
    sa.Column('result', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=True),
    sa.Column('details', sa.String(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hash'),
    sa.UniqueConstraint('seq')
    )
    op.create_table('note',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=200), nullable=True),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_note_incident_id'), 'note', ['incident_id'], unique=False)
    op.create_index(op.f('ix_note_subject'), 'note', ['subject'], unique=False)
    op.create_table('reply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('sender', sa.String(length=200), nullable=False),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_reply_incident_id'), 'reply', ['incident_id'], unique=False)
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_by', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
    for table in ('staff', 'incident', 'message'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('intakeanswer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('replaced_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
    _move_text_out_of_events(op.get_bind())
    _append_only(op.get_bind())


def _move_text_out_of_events(conn: sa.engine.Connection) -> None:
    """Events written before this migration carry free text; it moves to rows purge can erase."""
    rows = conn.execute(sa.select(_event).where(_event.c.kind.in_(_TEXT_KINDS))
                        .order_by(_event.c.id)).all()
    for e in rows:
        data = dict(e.data or {})
        if e.kind == 'inbound.reply' and 'text' in data:
            data['reply_id'] = _insert(conn, _reply, incident_id=e.incident_id, sender=e.actor,
                                       text=str(data.pop('text') or ''), at=e.at)
        elif e.kind == 'community.acknowledged' and 'note' in data:
            note = data.pop('note')
            data['note_id'] = None if note is None else _insert(
                conn, _note, incident_id=e.incident_id, subject=None, author=e.actor,
                text=str(note), at=e.at)
        elif e.kind.startswith('intake.') and 'answers' in data:
            data['answer_id'] = _answer_row(conn, e, data.pop('answers'))
            if 'previous' in data:
                data['previous_id'] = _answer_row(conn, e, data.pop('previous'))
        else:
            continue
        conn.execute(sa.update(_event).where(_event.c.id == e.id).values(data=data))


def _insert(conn: sa.engine.Connection, table: sa.TableClause, **values: object) -> int:
    return conn.execute(sa.insert(table).values(**values).returning(table.c.id)).scalar_one()


def _answer_row(conn: sa.engine.Connection, e: sa.Row, answers: object) -> int:
    """The intake answer row holding these answers, or a replaced one made for them (an answer
    changed through its link was overwritten: only the event had the earlier one)."""
    contact = (e.actor or '').removeprefix('contact:')
    candidates = conn.execute(sa.select(_answer.c.id, _answer.c.answers).where(
        _answer.c.incident_id == e.incident_id, _answer.c.community_id == e.community_id,
        _answer.c.contact_id == contact).order_by(_answer.c.id)).all()
    for row in candidates:
        if row.answers == answers:
            return row.id
    form = (e.data or {}).get('form') or ''
    source = (e.data or {}).get('source') or 'web'
    return _insert(conn, _answer, incident_id=e.incident_id, community_id=e.community_id,
                   contact_id=contact, form_id=form, answers=answers, source=source, at=e.at,
                   link=None, replaced_at=e.at)


def _append_only(conn: sa.engine.Connection) -> None:
    if conn.dialect.name == 'postgresql':
        op.execute(_PG_FUNCTION)
        for table in APPEND_ONLY:
            op.execute(f'CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} '
                       'FOR EACH ROW EXECUTE FUNCTION verbinder_append_only()')
            op.execute(f'CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} '
                       'FOR EACH STATEMENT EXECUTE FUNCTION verbinder_append_only()')
    elif conn.dialect.name == 'sqlite':
        for table in APPEND_ONLY:
            for what in ('UPDATE', 'DELETE'):
                op.execute(
                    f'CREATE TRIGGER {table}_no_{what.lower()} BEFORE {what} ON {table} '
                    f"BEGIN SELECT RAISE(ABORT, 'verbinder: rows of {table} are only ever "
                    f"added; {what} refused'); END")


def _drop_append_only(conn: sa.engine.Connection) -> None:
    if conn.dialect.name == 'postgresql':
        for table in APPEND_ONLY:
            op.execute(f'DROP TRIGGER IF EXISTS {table}_append_only ON {table}')
            op.execute(f'DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}')
        op.execute('DROP FUNCTION IF EXISTS verbinder_append_only()')
    elif conn.dialect.name == 'sqlite':
        for table in APPEND_ONLY:
            for what in ('update', 'delete'):
                op.execute(f'DROP TRIGGER IF EXISTS {table}_no_{what}')


def _put_text_back(conn: sa.engine.Connection) -> None:
    """Downgrade: the texts go back into the events (what purge erased stays erased)."""
    texts = {
        'reply_id': ('text', _reply, lambda r: r.text),
        'note_id': ('note', _note, lambda r: r.text),
        'answer_id': ('answers', _answer, lambda r: r.answers),
        'previous_id': ('previous', _answer, lambda r: r.answers),
    }
    rows = conn.execute(sa.select(_event).where(_event.c.kind.in_(_TEXT_KINDS))).all()
    for e in rows:
        data = dict(e.data or {})
        if not any(key in data for key in texts):
            continue
        for key, (name, table, value) in texts.items():
            if key not in data:
                continue
            ref = data.pop(key)
            row = None if ref is None else conn.execute(
                sa.select(table).where(table.c.id == ref)).first()
            data[name] = value(row) if row is not None else None
        conn.execute(sa.update(_event).where(_event.c.id == e.id).values(data=data))
    # Answers kept only for the timeline (replaced ones) were not rows before.
    conn.execute(sa.delete(_answer).where(_answer.c.replaced_at.is_not(None)))


def downgrade() -> None:
    conn = op.get_bind()
    _drop_append_only(conn)
    _put_text_back(conn)
    with op.batch_alter_table('intakeanswer', schema=None) as batch_op:
        batch_op.drop_column('erased_at')
        batch_op.drop_column('replaced_at')
    for table in ('message', 'incident', 'staff'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('erased_at')
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_column('erased_at')
        batch_op.drop_column('withdrawn_by')
        batch_op.drop_column('withdrawn_at')
    op.drop_index(op.f('ix_reply_incident_id'), table_name='reply')
    op.drop_table('reply')
    op.drop_index(op.f('ix_note_subject'), table_name='note')
    op.drop_index(op.f('ix_note_incident_id'), table_name='note')
    op.drop_table('note')
    op.drop_table('auditentry')
