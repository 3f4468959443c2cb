"""saved reply uses: Undo of a reply sent from a saved reply takes back its use and its example

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('saved_reply_use',
    sa.Column('reply_id', sa.Integer(), nullable=False),
    sa.Column('saved_reply_id', sa.Integer(), nullable=False),
    sa.Column('example_message_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['example_message_id'], ['ticket_message.id'], ),
    sa.ForeignKeyConstraint(['reply_id'], ['ticket_message.id'], ),
    sa.ForeignKeyConstraint(['saved_reply_id'], ['saved_reply.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('reply_id')
    )
    op.create_index(op.f('ix_saved_reply_use_saved_reply_id'), 'saved_reply_use', ['saved_reply_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_saved_reply_use_saved_reply_id'), table_name='saved_reply_use')
    op.drop_table('saved_reply_use')
