# frozen_string_literal: true

require_relative '../../../puppet_x/monitoring_portal/rest_provider'

Puppet::Type.type(:monitoring_contactgroup).provide(:rest) do
  desc "Talks to the monitoring portal's REST API (/api/v1/registry/contactgroups/<name>/)."

  include PuppetX::MonitoringPortal::RestProvider

  portal_properties(group_alias: ['alias', :string], members: ['members', :set])

  def api_path
    "registry/contactgroups/#{PuppetX::MonitoringPortal::Client.path(resource[:name])}"
  end
end
