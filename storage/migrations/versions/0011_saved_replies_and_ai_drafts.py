"""saved replies and AI drafts

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('reply_draft',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('after_message_id', sa.Integer(), nullable=True),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('sources', sa.JSON(), nullable=False),
    sa.Column('caution', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('sent_text', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('reply_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['after_message_id'], ['ticket_message.id'], ),
    sa.ForeignKeyConstraint(['reply_id'], ['ticket_message.id'], ),
    sa.ForeignKeyConstraint(['requested_by_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('reply_draft', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reply_draft_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_reply_draft_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_reply_draft_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('saved_reply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('name_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('source_message_id', sa.Integer(), nullable=True),
    sa.Column('uses', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('removed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['owner_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['source_message_id'], ['ticket_message.id'], ),
    sa.ForeignKeyConstraint(['updated_by_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('scope', 'name_key', name='uq_saved_reply_name')
    )
    with op.batch_alter_table('saved_reply', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saved_reply_scope'), ['scope'], unique=False)

    op.create_table('saved_reply_example',
    sa.Column('saved_reply_id', sa.Integer(), nullable=False),
    sa.Column('ticket_message_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['saved_reply_id'], ['saved_reply.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_message_id'], ['ticket_message.id'], ),
    sa.PrimaryKeyConstraint('saved_reply_id', 'ticket_message_id')
    )




def downgrade() -> None:

    op.drop_table('saved_reply_example')

    with op.batch_alter_table('saved_reply', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_saved_reply_scope'))

    op.drop_table('saved_reply')
    with op.batch_alter_table('reply_draft', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reply_draft_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_reply_draft_state'))
        batch_op.drop_index(batch_op.f('ix_reply_draft_created_at'))

    op.drop_table('reply_draft')

