"""suggestion version: every change to the suggestion tracker numbered in commit order, per card

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    version = op.create_table('suggestion_version',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    # the one row every writer raises; indexes built before this start from scratch anyway
    op.bulk_insert(version, [{'id': 1, 'version': 0}])
    op.create_table('suggestion_change',
    sa.Column('card_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('card_id')
    )
    op.create_index(op.f('ix_suggestion_change_version'), 'suggestion_change', ['version'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_suggestion_change_version'), table_name='suggestion_change')
    op.drop_table('suggestion_change')
    op.drop_table('suggestion_version')
