"""rotations: the order, its day overrides (skip, cover, swap), leave and new hires' onboarding

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rotation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('days', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('at_time', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('until_time', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('tz', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('start_day', sa.Date(), nullable=False),
    sa.Column('channel_platform', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('channel_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('usergroup', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('rotation_away',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_rotation_away_person_id'), 'rotation_away', ['person_id'], unique=False)
    op.create_table('rotation_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rotation_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('joined_on', sa.Date(), nullable=False),
    sa.Column('after_person_id', sa.Integer(), nullable=True),
    sa.Column('left_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['after_person_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['rotation_id'], ['rotation.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_rotation_member_rotation_id'), 'rotation_member', ['rotation_id'], unique=False)
    op.create_table('rotation_onboarding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rotation_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('buddy_id', sa.Integer(), nullable=True),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['buddy_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['rotation_id'], ['rotation.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_rotation_onboarding_rotation_id'), 'rotation_onboarding', ['rotation_id'], unique=False)
    op.create_table('rotation_override',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rotation_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('replaces_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['replaces_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['rotation_id'], ['rotation.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('rotation_id', 'day', name='uq_rotation_override_day')
    )
    op.create_index(op.f('ix_rotation_override_rotation_id'), 'rotation_override', ['rotation_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_rotation_override_rotation_id'), table_name='rotation_override')
    op.drop_table('rotation_override')
    op.drop_index(op.f('ix_rotation_onboarding_rotation_id'), table_name='rotation_onboarding')
    op.drop_table('rotation_onboarding')
    op.drop_index(op.f('ix_rotation_member_rotation_id'), table_name='rotation_member')
    op.drop_table('rotation_member')
    op.drop_index(op.f('ix_rotation_away_person_id'), table_name='rotation_away')
    op.drop_table('rotation_away')
    op.drop_table('rotation')
