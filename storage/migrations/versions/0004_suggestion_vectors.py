"""suggestion vectors: each request's embedding, kept across restarts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('suggestion_vector',
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['suggestion_request.id'], ),
    sa.PrimaryKeyConstraint('request_id', 'model')
    )


def downgrade() -> None:
    op.drop_table('suggestion_vector')
