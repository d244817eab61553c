# frozen_string_literal: true

require_relative '../../puppet_x/monitoring_portal/type_helpers'

Puppet::Type.newtype(:monitoring_contactgroup) do
  @doc = <<~DOC
    A contact group in the monitoring portal (staff tokens). Its alias is `group_alias`
    (`alias` is a Puppet metaparameter). Autorequires its members' `monitoring_contact`s.

        monitoring_contactgroup { 'dba':
          group_alias => 'Database administrators',
          members     => ['alice', 'bob'],
        }
  DOC

  ensurable do
    desc 'present or absent.'
    defaultvalues
    defaultto :present
  end

  newparam(:name, namevar: true) do
    desc "The group's name in Naemon."
    validate { |value| raise ArgumentError, 'the name must not be empty' if value.to_s.empty? }
  end

  PuppetX::MonitoringPortal::TypeHelpers.connection_parameters(self)
  PuppetX::MonitoringPortal::TypeHelpers.string(self, :group_alias, 'A longer display name.')
  PuppetX::MonitoringPortal::TypeHelpers.set(self, :members, 'Contacts in the group')

  autorequire(:monitoring_contact) { Array(self[:members]) }
end
