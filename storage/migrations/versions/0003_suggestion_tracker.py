"""suggestion tracker

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('feedback_draft',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('used', sa.Boolean(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('suggestion_card',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('department', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('announcement', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['merged_into_id'], ['suggestion_card.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('suggestion_card', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suggestion_card_status'), ['status'], unique=False)

    op.create_table('suggestion_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('recipient', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['suggestion_card.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('card_id', 'recipient', 'outcome', name='uq_notice_once')
    )
    with op.batch_alter_table('suggestion_notice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suggestion_notice_card_id'), ['card_id'], unique=False)

    op.create_table('suggestion_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('quote', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('customer_email', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('customer_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('importance', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('department', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('logged_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['suggestion_card.id'], ),
    sa.ForeignKeyConstraint(['logged_by_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('suggestion_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suggestion_request_card_id'), ['card_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_suggestion_request_customer_email'), ['customer_email'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('suggestion_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_suggestion_request_customer_email'))
        batch_op.drop_index(batch_op.f('ix_suggestion_request_card_id'))

    op.drop_table('suggestion_request')
    with op.batch_alter_table('suggestion_notice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_suggestion_notice_card_id'))

    op.drop_table('suggestion_notice')
    with op.batch_alter_table('suggestion_card', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_suggestion_card_status'))

    op.drop_table('suggestion_card')
    op.drop_table('feedback_draft')

